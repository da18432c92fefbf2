# Sourced by scripts/test: make this machine able to run every tier, where it can, as CI does.
# shellcheck shell=bash
#
# As root with apt (a CI machine, a fresh container, a VM): start a private Docker engine (stopped again at
# exit when this started it), make the stand-in base image and the release rehearsal's tools, and install
# Chromium, npm and jq where missing (scripts/apt.sh decides per tool). Elsewhere, or with
# NF_TEST_SETUP=0, it changes nothing: the tiers that need these skip, each saying what to install.
# Exports DOCKER_HOST when an engine answers.

machine_ready=false
if [ "${NF_TEST_SETUP:-1}" = 0 ]; then
  echo "NF_TEST_SETUP=0: the machine is left as it is" >&2
elif [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "not root with apt: the machine is left as it is; container, act, rehearsal and rendering tests skip" \
    "where their tools are missing (CONTRIBUTING.md says how to install them)" >&2
else
  setup_started=$SECONDS
  if ! scripts/docker-engine.sh status >/dev/null 2>&1; then
    # An engine this script starts is stopped by its PID at the end, also on failure; one that was already
    # running is left alone.
    trap 'scripts/docker-engine.sh stop || true' EXIT
  fi
  engine_log=$(mktemp)
  scripts/docker-engine.sh start >"$engine_log"
  eval "$(tail -1 "$engine_log")"
  rm -f "$engine_log"
  scripts/docker-engine.sh base-image
  # The release rehearsal: docker-registry, buildah, qemu-user-static and the arm64 stand-in rootfs.
  scripts/docker-engine.sh release-tools
  # The summary rendering tests draw the summary in Chromium with an emoji font, and mermaid comes from
  # npm (pinned by testing/browser). npm usually comes with the machine's Node.js (NodeSource), and Debian's
  # npm conflicts with that Node.js, so each tool is installed only when missing (scripts/apt.sh).
  # shellcheck source=scripts/apt.sh
  source scripts/apt.sh
  install_unless_found "chromium|chromium-browser|google-chrome" "the summary rendering tests draw the summary in a real browser" chromium fonts-noto-color-emoji
  install_unless_found npm "scripts/test installs the pinned mermaid with npm ci" npm
  install_unless_found jq "the release workflow's tests run their fake gh's --jq filters with the real jq" jq
  machine_ready=true
  echo "set-up took $((SECONDS - setup_started))s (engine, base image, rehearsal tools, browser)" >&2
fi
export machine_ready

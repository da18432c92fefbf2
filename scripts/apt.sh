# Sourced by .ci/run and the scripts: Debian packages installed one tool at a time, and only when missing.
# shellcheck shell=bash
#
#   have CMD...                            true when any CMD is on PATH (or is an executable path)
#   install_unless_found CMDS WHY ARG...   when none of CMDS ("a|b|c") is found, apt-get install -y ARG...
#                                          (packages, and options such as --no-install-recommends). On
#                                          failure it says which tool, why it was wanted, and apt's own
#                                          explanation, not only apt's last line.
#
# One decision per tool, because apt refuses a whole set for one bad member: this kind of machine gets
# Node.js from NodeSource with npm bundled, Debian's npm conflicts with it, and asking for npm beside
# Chromium made apt refuse Chromium too (issue 16). tests/repo/test_apt_installs.py reads every
# install_unless_found call in .ci/run and scripts/ and simulates it (apt-get install -s) on the machine
# running the tests, so keep each call on one line and its arguments literal.

have() {
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 && return 0
  done
  return 1
}

_apt_updated=false

install_unless_found() {
  local cmds="$1" why="$2"
  shift 2
  local -a alternatives
  IFS='|' read -r -a alternatives <<<"$cmds"
  if have "${alternatives[@]}"; then
    return 0
  fi
  local log
  log=$(mktemp)
  echo "installing $* (apt-get), since none of ${cmds//|/, } is found: $why" >&2
  if [ "$_apt_updated" = false ]; then
    if ! apt-get update -qq >"$log" 2>&1; then
      echo "error: apt-get update failed while installing ${alternatives[0]} ($why). apt said:" >&2
      grep -E '^(E|W|Err):' "$log" >&2 || tail -n 20 "$log" >&2
      rm -f "$log"
      return 1
    fi
    _apt_updated=true
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$log" 2>&1; then
    echo "error: could not install $* for ${alternatives[0]} ($why). apt said:" >&2
    # apt explains a refused set before its last line ("The following packages have unmet dependencies",
    # then one line per conflict); the last line alone names no package.
    sed -n '/unmet dependencies/,$p' "$log" | grep . >&2 || tail -n 20 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

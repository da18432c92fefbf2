#!/usr/bin/env bash
# A private Docker engine and a local stand-in of python:3.12-slim, for the container tests on machines
# that have no running engine and cannot pull from any container registry.
#
#   scripts/docker-engine.sh start        # installs docker.io + debootstrap if needed, starts dockerd;
#                                         # last stdout line: export DOCKER_HOST=unix://.../docker.sock
#   eval "$(scripts/docker-engine.sh start | tail -1)"
#   scripts/docker-engine.sh base-image   # tags a local stand-in as python:3.12-slim (cached tarball)
#   scripts/docker-engine.sh release-tools  # the release rehearsal's tools: docker-registry, buildah,
#                                         # qemu-user-static (qemu-aarch64 registered in binfmt_misc) and a
#                                         # cached arm64 stand-in rootfs for the multi-arch build
#   scripts/docker-engine.sh status
#   scripts/docker-engine.sh stop
#
# Everything lives under ${NF_DOCKER_DIR:-/var/tmp/northflank-release-docker}:
#   docker.sock, dockerd.pid, dockerd.log, data/ (images), exec/, python-3.12-slim-standin.tar (cache).
# Deleting data/ loses the images; the next base-image re-imports the cached tarball (seconds) instead
# of running debootstrap again (about a minute). Delete the tarball to rebuild the stand-in from scratch.
#
# The stand-in base trusts the host's CA bundle (PIP_CERT / SSL_CERT_FILE / REQUESTS_CA_BUNDLE in its
# ENV), because outbound HTTPS here may go through a TLS-intercepting proxy. That is for the test base
# only; the production Dockerfile is unchanged. The host's pip configuration (local find-links and
# file:// extra indexes) is not visible inside a build: the build runs with host networking and pip uses
# its default index. If the host needs HTTP_PROXY / HTTPS_PROXY / NO_PROXY, pass them to the build as
# build args (Docker accepts these predefined build args without an ARG line in the Dockerfile).
set -euo pipefail
# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"

DIR="${NF_DOCKER_DIR:-/var/tmp/northflank-release-docker}"
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/dockerd.pid"
LOG="$DIR/dockerd.log"
TARBALL="$DIR/python-3.12-slim-standin.tar"
BASE_TAG="python:3.12-slim"
DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
SUITE=bookworm
START_TIMEOUT=60
STOP_TIMEOUT=30

T0_MS=$(($(date +%s%N) / 1000000))
log() {
    local ms=$(($(date +%s%N) / 1000000 - T0_MS))
    printf '[docker-engine %4d.%01ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2
}
die() {
    log "ERROR: $*"
    exit 1
}

export DOCKER_HOST="unix://$SOCK"

engine_answers() {
    "$DOCKER" version >/dev/null 2>&1
}

daemon_pid() {
    # Prints the PID of our dockerd if the pid file names a live dockerd process.
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == "$DOCKERD" ]] || return 1
    echo "$pid"
}

ensure_packages() {
    install_unless_found /usr/sbin/dockerd "the container tests run the real image on a private engine" --no-install-recommends docker.io || die "could not install the Docker engine"
    [[ -x "$DOCKER" ]] || die "$DOCKER is missing although $DOCKERD is installed: reinstall docker.io"
    install_unless_found debootstrap "it builds the stand-in base image, since no registry can be pulled from" --no-install-recommends debootstrap || die "could not install debootstrap"
}

cmd_start() {
    mkdir -p "$DIR"
    ensure_packages
    local pid
    if pid=$(daemon_pid) && engine_answers; then
        log "reusing running dockerd (pid $pid) on $SOCK"
        echo "export DOCKER_HOST=unix://$SOCK"
        return 0
    fi
    if pid=$(daemon_pid); then
        log "dockerd pid $pid alive but not answering; stopping it first"
        cmd_stop
    fi
    rm -f "$PIDFILE"
    [[ -S "$SOCK" ]] && rm -f "$SOCK"
    mkdir -p "$DIR/data" "$DIR/exec"
    log "starting dockerd (overlay2, no bridge, no iptables) on $SOCK"
    # setsid: the daemon outlives this script and is not in the caller's process group.
    setsid "$DOCKERD" \
        --data-root "$DIR/data" \
        --exec-root "$DIR/exec" \
        --pidfile "$DIR/dockerd.internal.pid" \
        --storage-driver overlay2 \
        --bridge none \
        --iptables=false \
        --host "unix://$SOCK" \
        </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    local waited=0
    until engine_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$LOG" >&2 || true
            rm -f "$PIDFILE"
            die "dockerd exited during start-up; see $LOG"
        fi
        if ((waited >= START_TIMEOUT * 5)); then
            tail -n 20 "$LOG" >&2 || true
            die "dockerd did not answer within ${START_TIMEOUT}s; see $LOG (pid $pid left running: run '$0 stop')"
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    log "dockerd ready (pid $pid, server $("$DOCKER" version --format '{{.Server.Version}}'))"
    echo "export DOCKER_HOST=unix://$SOCK"
}

cmd_stop() {
    local pid
    if ! pid=$(daemon_pid); then
        rm -f "$PIDFILE"
        log "dockerd not running"
        return 0
    fi
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= STOP_TIMEOUT * 5)); then
            log "dockerd (pid $pid) still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    rm -f "$PIDFILE"
    log "dockerd stopped"
}

cmd_status() {
    local pid
    if pid=$(daemon_pid) && engine_answers; then
        log "dockerd running (pid $pid) on $SOCK"
        if "$DOCKER" image inspect "$BASE_TAG" >/dev/null 2>&1; then
            log "$BASE_TAG present"
        else
            log "$BASE_TAG absent: run '$0 base-image'"
        fi
        echo "export DOCKER_HOST=unix://$SOCK"
    else
        log "dockerd not running: run '$0 start'"
        echo "export DOCKER_HOST=unix://$SOCK"
        return 1
    fi
}

cpython_312_prefix() {
    # A CPython 3.12 installed in a prefix of its own (pyenv, a python-build or a relocatable build), whose
    # whole prefix can be copied into /usr/local: NF_STANDIN_PYTHON, else python3.12 on PATH, else the
    # newest 3.12 under $PYENV_ROOT (default ~/.pyenv). A system Python's prefix (/usr, /usr/local) holds
    # much else, so it is never taken; with none found the stand-in uses Debian's python3 instead.
    if [[ -n "${NF_STANDIN_PYTHON:-}" ]]; then
        echo "$NF_STANDIN_PYTHON"
        return
    fi
    local exe prefix
    local -a found=()
    exe=$(command -v python3.12 2>/dev/null || true)
    [[ -n "$exe" ]] && found+=("$(readlink -f "$exe")")
    while IFS= read -r exe; do
        found+=("$exe")
    done < <(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 2>/dev/null | sort -rV)
    for exe in "${found[@]}"; do
        prefix=$(dirname "$(dirname "$exe")")
        case "$prefix" in /usr | /usr/local | /) continue ;; esac
        if [[ -x "$prefix/bin/python3.12" && -f "$prefix/lib/python3.12/os.py" ]]; then
            echo "$prefix"
            return
        fi
    done
    echo "none"
}

apt_mirror() {
    # The first Debian (non-security) mirror URI from the machine's apt sources.
    local uri=""
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        uri=$(awk '
            /^[[:space:]]*$/ { if (u != "" && s ~ /(^| )'"$SUITE"'( |$)/) { print u; exit } u=""; s=""; next }
            /^URIs:/ { u=$2 }
            /^Suites:/ { $1=""; s=$0 }
            END { if (u != "" && s ~ /(^| )'"$SUITE"'( |$)/) print u }
        ' "$f" | grep -v -- '-security' | head -n 1 || true)
        [[ -n "$uri" ]] && break
    done
    if [[ -z "$uri" ]]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i, $(i+1); break } }' \
            | awk -v s="$SUITE" '$2 == s { print $1; exit }' || true)
    fi
    [[ -n "$uri" ]] || die "no $SUITE mirror found in /etc/apt/sources.list(.d)"
    echo "$uri"
}

import_tarball() {
    log "importing $TARBALL as $BASE_TAG"
    "$DOCKER" import \
        -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV LANG=C.UTF-8' \
        -c 'ENV PYTHON_VERSION=3.12' \
        -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        -c 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
        -c 'CMD ["python3"]' \
        -m 'local stand-in of python:3.12-slim (debootstrap bookworm minbase + CPython 3.12), tests only' \
        "$TARBALL" "$BASE_TAG" >/dev/null
    log "imported: $("$DOCKER" image inspect -f '{{.Id}} {{.Size}} bytes' "$BASE_TAG")"
}

build_rootfs() {
    local root="$1"
    # Commands inside the root get a clean environment (no host pip config, no .pyc files).
    in_root() {
        env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
            PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 chroot "$root" "$@"
    }
    local mirror
    mirror=$(apt_mirror)
    local PYENV_PYTHON
    PYENV_PYTHON=$(cpython_312_prefix)
    # Shared libraries the CPython build links (ldd of python3.12 and lib-dynload/*.so), minus Tk/X11.
    local include="libssl3,libffi8,zlib1g,libsqlite3-0,libbz2-1.0,liblzma5,libreadline8,libncursesw6"
    include+=",libtinfo6,libuuid1,libexpat1,libnsl2,libtirpc3,libcrypt1,libgdbm6,libgdbm-compat4"
    if [[ ! -x "$PYENV_PYTHON/bin/python3.12" ]]; then
        # A machine without that CPython still gets a working base: Debian's own Python (3.11 on
        # bookworm), which runs the action just as well; only the version differs from the real image.
        log "no CPython 3.12 in a prefix of its own (NF_STANDIN_PYTHON, python3.12 on PATH, \$PYENV_ROOT/versions); using Debian's python3 instead"
        include+=",python3,python3-pip,ca-certificates"
    fi
    log "debootstrap --variant=minbase $SUITE from the machine's apt mirror (about a minute)"
    debootstrap --variant=minbase --include="$include" "$SUITE" "$root" "$mirror" >"$DIR/debootstrap.log" 2>&1 \
        || { tail -n 30 "$DIR/debootstrap.log" >&2; die "debootstrap failed; see $DIR/debootstrap.log"; }
    log "debootstrap done"
    if [[ ! -x "$PYENV_PYTHON/bin/python3.12" ]]; then
        ln -sf /usr/bin/python3 "$root/usr/local/bin/python3"
        ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
        # Debian marks its Python as externally managed; the image's pip install is the point of the image.
        rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
        finish_rootfs "$root"
        return
    fi

    log "copying CPython from $PYENV_PYTHON into /usr/local"
    # No host-specific .pth hooks, no site-packages other than pip (like the official slim image).
    tar -C "$PYENV_PYTHON" \
        --exclude='./lib/python3.12/test' \
        --exclude='./lib/python3.12/idlelib' \
        --exclude='./lib/python3.12/tkinter' \
        --exclude='./lib/python3.12/turtledemo' \
        --exclude='./lib/python3.12/lib-dynload/_tkinter*' \
        --exclude='./lib/python3.12/site-packages/*.pth' \
        --exclude='__pycache__' \
        --exclude='*.pyc' \
        --exclude='*.a' \
        -cf - . | tar -C "$root/usr/local" -xf -
    find "$root/usr/local" -depth -type d \( -name test -o -name tests -o -name idle_test \) \
        -path '*/python3.12/*' -exec rm -rf {} +
    rm -f "$root/usr/local/bin/idle"* "$root/usr/local/bin/2to3"* "$root/usr/local/bin/python3.12-gdb.py"
    # Fix the #! lines of the scripts that pointed at the pyenv interpreter.
    local f
    for f in "$root"/usr/local/bin/*; do
        [[ -f "$f" && ! -L "$f" ]] || continue
        if head -c 2 "$f" | grep -q '#!'; then
            sed -i '1s|^#!.*python.*$|#!/usr/local/bin/python3.12|' "$f"
        fi
    done
    # python, python3, pip, pip3 on PATH (pyenv already ships most as symlinks; make sure).
    ln -sf python3.12 "$root/usr/local/bin/python3"
    ln -sf python3.12 "$root/usr/local/bin/python"
    [[ -e "$root/usr/local/bin/pip" ]] || ln -sf pip3 "$root/usr/local/bin/pip"
    in_root ldconfig

    log "checking shared libraries inside the root"
    local missing
    # shellcheck disable=SC2016  # expanded inside the root, not here
    missing=$(in_root /bin/sh -c \
        'for f in /usr/local/bin/python3.12 /usr/local/lib/python3.12/lib-dynload/*.so; do ldd "$f" | sed -n "s|^|$f: |; /not found/p"; done' || true)
    if [[ -n "$missing" ]]; then
        log "libraries not found (those modules will not import):"
        echo "$missing" >&2
    fi
    in_root /usr/local/bin/python3 -c 'import ssl, hashlib, ctypes, sqlite3, zlib, bz2, lzma, json, uuid; print(ssl.OPENSSL_VERSION)' >&2 \
        || die "stand-in Python cannot import ssl/hashlib/ctypes/sqlite3/zlib/bz2/lzma"
    in_root /usr/local/bin/pip --version >&2 || die "pip does not run in the stand-in"
    finish_rootfs "$root"
}

finish_rootfs() {
    local root="$1"
    # The host's CA bundle, so pip trusts a TLS-intercepting proxy during test builds.
    local ca="${SSL_CERT_FILE:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}"
    [[ -f "$ca" ]] || ca=/etc/ssl/certs/ca-certificates.crt
    [[ -f "$ca" ]] || die "no CA bundle found on the host"
    mkdir -p "$root/etc/ssl/certs"
    cp -L "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
    log "copied CA bundle $ca"

    # Trim what a slim image does not carry.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
}

cmd_base_image() {
    engine_answers || die "no engine answers on $SOCK: run '$0 start' first"
    if "$DOCKER" image inspect "$BASE_TAG" >/dev/null 2>&1; then
        log "$BASE_TAG already present; nothing to do"
        return 0
    fi
    if [[ ! -s "$TARBALL" ]]; then
        ensure_packages
        local root="$DIR/standin-root"
        rm -rf "$root"
        mkdir -p "$root"
        build_rootfs "$root"
        log "saving rootfs to $TARBALL"
        tar --numeric-owner -C "$root" -cf "$TARBALL.tmp" .
        mv "$TARBALL.tmp" "$TARBALL"
        rm -rf "$root"
        log "rootfs cached ($(du -h "$TARBALL" | cut -f1))"
    else
        log "using cached rootfs $TARBALL"
    fi
    import_tarball
}

ARM64_TARBALL="$DIR/python-3.12-slim-standin-arm64.tar"

# Written when qemu-aarch64 cannot be made to work here (no binfmt_misc mount, no permission): the
# rehearsal then builds and tests amd64 only and skips arm64 with this file's reason, even under CI=true.
# Removed whenever registration succeeds. testing/release_rehearsal.py reads it.
NO_ARM64="$DIR/arm64-unavailable"
BINFMT="${NF_BINFMT_DIR:-/proc/sys/fs/binfmt_misc}"
QEMU_AARCH64_CONF="${NF_QEMU_AARCH64_CONF:-/usr/lib/binfmt.d/qemu-aarch64.conf}"

no_arm64() {
    log "WARNING: $1; the release rehearsal will build and test linux/amd64 only"
    mkdir -p "$DIR"
    printf '%s\n' "$1" >"$NO_ARM64"
}

# Enabled, and flag F (the interpreter is opened at registration, so it works inside containers and chroots).
aarch64_entry_ok() {
    local entry="$BINFMT/qemu-aarch64"
    [[ -r "$entry" ]] && [[ "$(head -n 1 "$entry")" == enabled ]] && grep -qE '^flags: [A-Z]*F' "$entry"
}

register_qemu_aarch64() {
    # Debian's qemu-user-static ships the binfmt entry with flag F; systemd-binfmt would load it on a booted
    # system, this machine has none. Any failure here is a warning: amd64 still rehearses.
    local entry="$BINFMT/qemu-aarch64"
    if [[ ! -e "$BINFMT/register" ]] && ! mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null; then
        no_arm64 "cannot mount binfmt_misc at $BINFMT"
        return 1
    fi
    if [[ -e "$entry" ]] && ! aarch64_entry_ok; then
        log "qemu-aarch64 is registered but not enabled with flag F ($(head -n 1 "$entry"), $(grep '^flags:' "$entry" || true)): re-registering"
        # Writing -1 to an entry removes it (Documentation/admin-guide/binfmt-misc.rst).
        echo -1 2>/dev/null >"$entry" || true
    fi
    if ! aarch64_entry_ok; then
        if ! cat "$QEMU_AARCH64_CONF" 2>/dev/null >"$BINFMT/register"; then
            no_arm64 "cannot register qemu-aarch64 from $QEMU_AARCH64_CONF in $BINFMT"
            return 1
        fi
        if ! aarch64_entry_ok; then
            no_arm64 "qemu-aarch64 in $BINFMT is still not enabled with flag F after registering"
            return 1
        fi
    fi
    rm -f "$NO_ARM64"
    log "qemu-aarch64: $(head -n 1 "$entry"), $(grep '^flags:' "$entry")"
}

cmd_release_tools() {
    # The arm64 half of the release rehearsal's base: Debian's python3 (3.11 on bookworm) on an arm64
    # minbase; only the version differs from python:3.12-slim, as for the amd64 fallback above.
    install_unless_found docker-registry "the rehearsal pushes the release image to a local registry" --no-install-recommends docker-registry || die "could not install docker-registry"
    install_unless_found buildah "the rehearsal builds the multi-arch image as the release workflow does" --no-install-recommends buildah || die "could not install buildah"
    install_unless_found qemu-aarch64-static "the rehearsal builds and runs the arm64 image under emulation" --no-install-recommends qemu-user-static || die "could not install qemu-user-static"
    install_unless_found debootstrap "it builds the arm64 stand-in root" --no-install-recommends debootstrap || die "could not install debootstrap"
    if ! register_qemu_aarch64; then
        log "no arm64 stand-in rootfs without qemu-aarch64; see $NO_ARM64"
        return 0
    fi
    if [[ -s "$ARM64_TARBALL" ]]; then
        log "$ARM64_TARBALL already cached; nothing to do"
        return 0
    fi
    local root="$DIR/standin-root-arm64"
    rm -rf "$root"
    mkdir -p "$root"
    log "debootstrap --arch=arm64 $SUITE under qemu (about two minutes)"
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-pip,ca-certificates \
        "$SUITE" "$root" "$(apt_mirror)" >"$DIR/debootstrap-arm64.log" 2>&1 \
        || { tail -n 30 "$DIR/debootstrap-arm64.log" >&2; die "debootstrap failed; see $DIR/debootstrap-arm64.log"; }
    ln -sf /usr/bin/python3 "$root/usr/local/bin/python3"
    ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    finish_rootfs "$root"
    chroot "$root" /usr/local/bin/python -c 'import platform, ssl; assert platform.machine() == "aarch64"' \
        || die "the arm64 root's python does not run under qemu"
    tar --numeric-owner -C "$root" -cf "$ARM64_TARBALL.tmp" .
    mv "$ARM64_TARBALL.tmp" "$ARM64_TARBALL"
    rm -rf "$root"
    log "arm64 rootfs cached ($(du -h "$ARM64_TARBALL" | cut -f1))"
}

usage() {
    echo "usage: $0 {start|stop|status|base-image|release-tools}" >&2
    exit 2
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
base-image) cmd_base_image ;;
release-tools) cmd_release_tools ;;
*) usage ;;
esac

# Sourced by the scripts: make .venv from the pinned requirements, reinstalling only when they change.
# shellcheck shell=bash
VENV="${VENV:-$PWD/.venv}"
stamp="$VENV/.requirements.sha256"
wanted="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed as python3 (found $(python3 --version 2>&1))." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Setting up $VENV from the pinned requirements..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r requirements.txt -r requirements-dev.txt
  echo "$wanted" >"$stamp"
fi
export PATH="$VENV/bin:$PATH"

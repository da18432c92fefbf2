# Sourced by the scripts: make .venv from the pinned requirements, reinstalling only when they change.
# shellcheck shell=bash
VENV="${VENV:-$PWD/.venv}"
stamp="$VENV/.requirements.sha256"
wanted="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Setting up $VENV from the pinned requirements..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r requirements.txt -r requirements-dev.txt
  echo "$wanted" >"$stamp"
fi
export PATH="$VENV/bin:$PATH"

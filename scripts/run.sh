#!/usr/bin/env bash
# Install livehelp into .venv (Debian's python3-venv first, if missing) and run the
# server. Extra arguments go to server.py, e.g. --port 9000 or --config livehelp.yaml.
# The install is skipped when setup.cfg and pyproject.toml are as they were at the last one.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/livehelp-installed
wanted="$(cat setup.cfg pyproject.toml | sha256sum)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e .
  echo "$wanted" > "$stamp"
fi
exec .venv/bin/python server.py "$@"

#!/usr/bin/env bash
# Install everything the test suite needs (Debian's chromium, the Python test
# dependencies in .venv) and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Chromium for the browser tests; redis-server and nginx for the cluster tests (each
# test starts its own on free loopback ports; the packages' own services stay off).
if [ ! -x /usr/bin/chromium ] || ! command -v redis-server >/dev/null || [ ! -x /usr/sbin/nginx ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium redis-server nginx >/dev/null
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"

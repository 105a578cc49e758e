#!/usr/bin/env bash
# The test suite (CPU only). Extra arguments go to pytest, e.g.: bash scripts/test.sh -m "not slow"
source "$(dirname "$0")/venv.sh"
"$VENV/bin/python" -m pytest -q "$@"

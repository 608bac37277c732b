#!/usr/bin/env bash
# The Python tests of megabyte_torch, run by `pnpm test` after vitest. They need Debian's
# python3-torch (see .ci/run); without it they are skipped here, but never in CI.
set -uo pipefail
cd "$(dirname "$0")"
PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import torch, pytest' 2>/dev/null; then
  if [ -n "${CI:-}" ]; then
    echo "python tests: $PYTHON with torch and pytest is missing (apt-get install python3-torch python3-pytest)" >&2
    exit 1
  fi
  echo "python tests skipped: $PYTHON with torch and pytest is missing (apt-get install python3-torch python3-pytest)"
  exit 0
fi
"$PYTHON" -m pytest -q tests "$@"
status=$?
# Exit 5: no test matched the given selection (e.g. -k), which is not a failure.
[ "$status" -eq 5 ] && exit 0
exit "$status"

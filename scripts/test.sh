#!/usr/bin/env bash
# Set up (idempotent), then run the whole test suite. Extra arguments go to pytest.
# The suite runs on SPIKECODEC_TEST_WORKERS processes (default 2: 5 minutes on 2 cores instead of
# 8); SPIKECODEC_TEST_WORKERS=0 runs it in this one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n "${SPIKECODEC_TEST_WORKERS:-2}" "$@"

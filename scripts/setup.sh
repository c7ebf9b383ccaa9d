#!/usr/bin/env bash
# Idempotent set-up: .venv with the pinned CPU torch, the project (editable) and its test tools,
# and Fashion-MNIST from Debian for the reference networks. Re-running is quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi

# Reinstall only when the declared dependencies (or this script) changed.
stamp=.venv/.spikecodec-setup
want=$(cat pyproject.toml setup.py scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # torch first and pinned: an unpinned torch would pull the CUDA build (several GB).
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
    echo "$want" >"$stamp"
fi

# Compile and cache the codecs' kernels now (a minute or two once; a second when they are cached):
# the first command after set-up then runs at full speed.
.venv/bin/python -c "import spikecodec.codecs; spikecodec.codecs.warm_up()"

# Real data for the reference networks: Debian's package, never a download at run time.
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null
    else
        echo "setup: Fashion-MNIST missing; run 'apt-get install dataset-fashion-mnist' as root" >&2
    fi
fi

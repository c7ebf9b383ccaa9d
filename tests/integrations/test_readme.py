"""The README's Python examples run as written. A user's first contact is those blocks: they are
executed here, in order, with the few names they leave to the reader (a socket, a frame source,
a transport's send) stood in for by small local objects."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import spikecodec

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)
SAMPLE_IMAGES = Path(spikecodec.__file__).parent / "data" / "fmnist_sample_images.npy"


class Transport:
    """``send`` of the examples: keeps every message; the first is ``header``, the second ``message``."""

    def __init__(self, namespace: dict):
        self.sent: list[bytes] = []
        self.namespace = namespace

    def __call__(self, data: bytes) -> None:
        self.sent.append(bytes(data))
        if len(self.sent) <= 2:
            self.namespace["header" if len(self.sent) == 1 else "message"] = bytes(data)


class Socket:
    """A connected pair, in one object: what is written to ``makefile("wb")`` is read from
    ``makefile("rb")``."""

    def __init__(self):
        self.written = io.BytesIO()

    def makefile(self, mode: str) -> io.BytesIO:
        return self.written if "w" in mode else io.BytesIO(self.written.getvalue())


class Stdin:
    """Standard input for ``load("-")``: the bytes of the file the block saved just before
    (read when it is read)."""

    closed = False

    def __init__(self, path: Path):
        self.path = path

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self) -> io.BytesIO:
        return io.BytesIO(self.path.read_bytes())


def run(block: str, namespace: dict) -> dict:
    exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace


def test_there_are_the_blocks_this_test_knows():
    # A block added to the README needs its stand-ins here; this says so instead of skipping it.
    assert len(BLOCKS) == 5, f"README has {len(BLOCKS)} python blocks; tests/integrations/test_readme.py runs 5"


def test_the_library_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", Stdin(tmp_path / "feats.spk"))
    stream = io.BytesIO()
    big = (np.random.default_rng(1).random((2, 40, 8, 7, 7)) < 0.2).astype(np.uint8)
    ns = run(BLOCKS[0], {"sock_file": stream, "edge_frames": lambda: [np.zeros((32, 64, 7, 7), bool)] * 3, "big": big})
    np.testing.assert_array_equal(ns["x"], ns["spikes"])
    np.testing.assert_array_equal(spikecodec.load(tmp_path / "big.spk"), big)
    assert ns["report"].ok and ns["step2"].shape == (32, 64, 7, 7)
    assert spikecodec.decode(stream.getvalue()).shape == (3, 32, 64, 7, 7)
    ns = run(BLOCKS[1], {**ns, "buffer": np.empty((4, 32, 64, 7, 7), np.uint8)})
    np.testing.assert_array_equal(ns["buffer"], ns["spikes"])
    assert ns["x"].dtype == np.float32


def test_the_link_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    frames = [(rng.random((2, 4, 7, 7)) < 0.2).astype(np.uint8) for _ in range(3)]
    ns: dict = {"spikecodec": spikecodec, "train_spikes": (rng.random((64, 2, 4, 7, 7)) < 0.2).astype(np.uint8), "frames": frames}
    ns["send"] = Transport(ns)
    ns = run(BLOCKS[2], ns)
    np.testing.assert_array_equal(ns["frames"][0], frames[0])  # the first message decodes to the first frame
    assert (tmp_path / "layer3.prior").exists() and len(ns["send"].sent) == len(frames) + 2


def test_the_model_blocks_run():
    images = np.load(SAMPLE_IMAGES)[:8]
    ns = run(BLOCKS[3], {"images_uint8": images})
    assert ns["logits"].shape == (8, 10)
    handled: list = []
    ns = {"images": images, "sock": Socket(), "handle": handled.append, "image": images[0]}
    ns["conn"] = ns["sock"]
    ns["send"] = Transport(ns)
    run(BLOCKS[4], ns)
    assert sum(len(h) for h in handled) == len(images) and ns["logits"].shape == (1, 10)

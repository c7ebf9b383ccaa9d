"""`spikecodec edge`, `cloud` and `models`: images through the shipped reference model's two
halves, from IDX, .npy and PNG folders, one image per message, and the errors on bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec.models import shipped_prior
from spikecodec.models.reference import DEFAULT_REFERENCE
from spikecodec_cli.main import main

DATA = Path(spikecodec.__file__).parent / "data"
COUNT = 12


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    """A few images of the embedded Fashion-MNIST sample, with their labels."""
    return np.load(DATA / "fmnist_sample_images.npy")[:COUNT], np.load(DATA / "fmnist_sample_labels.npy")[:COUNT]


def write_idx(path: Path, array: np.ndarray) -> Path:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    path.write_bytes(gzip.compress(head + array.tobytes()))
    return path


def write_png_folder(folder: Path, images: np.ndarray) -> Path:
    from PIL import Image

    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image, mode="L").save(folder / f"img_{i:04d}.png")
    (folder / "notes.txt").write_text("not an image: skipped")
    return folder


def run_cli(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, want_code: int, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code == want_code and len(lines) == 1 and lines[0].startswith("spikecodec: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)


def in_process_predictions(images: np.ndarray) -> np.ndarray:
    import torch

    from spikecodec.models import load_reference

    with torch.inference_mode():
        return load_reference()(images).argmax(1).numpy()


def test_idx_to_predictions(tmp_path: Path, sample, capsys) -> None:
    """edge runs as the real command (a subprocess, once: it loads torch); cloud in-process."""
    images, labels = sample
    idx = write_idx(tmp_path / "images-idx3-ubyte.gz", images)
    spk, preds = tmp_path / "feats.spk", tmp_path / "preds.npy"
    command = [sys.executable, "-m", "spikecodec", "edge", "--images", idx, "-o", spk, "--batch", "5"]
    enc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert enc.returncode == 0, enc.stderr
    code, out, err = run_cli(capsys, "cloud", spk, "-o", preds, "--labels", write_idx(tmp_path / "labels-idx1-ubyte.gz", labels))
    assert code == 0, err
    predicted = np.load(preds)
    assert predicted.dtype == np.int64 and np.array_equal(predicted, in_process_predictions(images))
    accuracy = (predicted == labels).mean()
    size = spk.stat().st_size
    assert f"accuracy {accuracy:.4f} ({int((predicted == labels).sum())} of {COUNT})" in out
    assert f"{size / COUNT:.1f} bytes/image" in out and f"{size / COUNT:.1f} bytes/image" in enc.stderr

    with spikecodec.open(spk) as r:
        assert r.axes == ("N", "T", "C", "H", "W") and r.shape == (COUNT, 2, 4, 7, 7)
        assert r.chunk_shape == (5,) and len(r.entries) == 3  # one chunk per batch
        assert r.records == "compact" and r.codec[0]["id"] == "ctxmix" and r.prior is not None
        assert r.prior.digest == shipped_prior().digest and not r.embeds_prior  # named, found beside the model
        meta = r.metadata
    assert meta["model"] == DEFAULT_REFERENCE and meta["split"] == "layer3" and meta["source"] == idx.name
    assert meta["neuron"] == {"tau": 0.25, "v_th": 0.5, "T": 2}
    assert meta["code_shape"] == [2, 4, 7, 7] and meta["input_shape"] == [1, 28, 28]


def test_npy_and_png_folder_give_the_same_spikes(tmp_path: Path, sample, capsys) -> None:
    images, _ = sample
    np.save(tmp_path / "hw.npy", images)
    np.save(tmp_path / "chw.npy", images[:, None])
    folder = write_png_folder(tmp_path / "pngs", images)
    decoded = []
    for src in (tmp_path / "hw.npy", tmp_path / "chw.npy", folder):
        out = tmp_path / f"{src.stem}.spk"
        code, _, err = run_cli(capsys, "edge", "--images", src, "-o", out, "--meta", "camera=3")
        assert code == 0, err
        with spikecodec.open(out) as r:
            assert r.metadata["camera"] == 3 and r.metadata["source"] == src.name
            decoded.append(r.read())
    assert all(np.array_equal(decoded[0], d) for d in decoded[1:])
    code, out, err = run_cli(capsys, "cloud", tmp_path / "pngs.spk", "-o", tmp_path / "p.npy")
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "p.npy"), in_process_predictions(images))


def test_bad_inputs_are_one_line_errors_and_write_nothing(tmp_path: Path, sample, capsys) -> None:
    images, labels = sample
    out = tmp_path / "out.spk"
    np.save(tmp_path / "small.npy", images[:, :20, :20])
    np.save(tmp_path / "float.npy", images.astype(np.float32))
    np.save(tmp_path / "rgb.npy", np.repeat(images[:, None], 3, axis=1))
    (tmp_path / "empty").mkdir()
    idx = write_idx(tmp_path / "x-idx3-ubyte.gz", images).read_bytes()
    (tmp_path / "cut.gz").write_bytes(idx[: len(idx) // 2])
    (tmp_path / "short-idx3-ubyte").write_bytes(gzip.decompress(idx)[:-10])
    cases = [
        (("--images", tmp_path / "small.npy"), 1, "shaped (12, 20, 20)", "(N, 28, 28)"),
        (("--images", tmp_path / "float.npy"), 1, "float32"),
        (("--images", tmp_path / "rgb.npy"), 1, "12 images of 3 channels (RGB)", "1-channel (grayscale)"),
        (("--images", tmp_path / "empty"), 1, "no .png images"),
        (("--images", tmp_path / "cut.gz"), 1, "cut.gz", "corrupt gzip"),
        (("--images", tmp_path / "short-idx3-ubyte"), 1, "corrupt IDX", "12x28x28"),
        (("--images", tmp_path / "small.npy", "--model", "no-such-model"), 2, "--model", "no reference model", DEFAULT_REFERENCE),
    ]
    for args, code, *fragments in cases:
        one_line_error(*run_cli(capsys, "edge", *args, "-o", out)[::2], code, *fragments)
    assert list(tmp_path.glob("*.spk")) == [] and list(tmp_path.glob(".*.tmp")) == []

    spikecodec.save(tmp_path / "other.spk", np.zeros((2, 3, 8, 7, 7), np.uint8), metadata={"model": DEFAULT_REFERENCE})
    one_line_error(*run_cli(capsys, "cloud", tmp_path / "other.spk")[::2], 1, "other.spk", "(8, 7, 7)", "(4, 7, 7)")
    spikecodec.save(tmp_path / "anon.spk", np.zeros((2, 3, 4, 7, 7), np.uint8))
    one_line_error(*run_cli(capsys, "cloud", tmp_path / "anon.spk")[::2], 1, "names no model")
    # A file without metadata runs with --model, T leading: the whole file is one batch.
    code, _, err = run_cli(capsys, "cloud", tmp_path / "anon.spk", "--model", DEFAULT_REFERENCE, "-o", tmp_path / "p.npy")
    assert code == 0 and np.load(tmp_path / "p.npy").shape == (3,), err
    np.save(tmp_path / "labels.npy", labels[:2])
    one_line_error(*run_cli(capsys, "cloud", tmp_path / "anon.spk", "--labels", tmp_path / "labels.npy")[::2], 1, "names no model")


def test_models_lists_the_shipped_references(capsys) -> None:
    code, out, _ = run_cli(capsys, "models", "--json")
    models = {m["name"]: m for m in json.loads(out)}
    assert code == 0 and models[DEFAULT_REFERENCE]["default"] is True
    ref = models[DEFAULT_REFERENCE]
    assert ref["split"] == "layer3" and ref["spike_shape"] == [2, "N", 4, 7, 7]
    code, out, _ = run_cli(capsys, "models")
    line = next(line for line in out.splitlines() if DEFAULT_REFERENCE in line)
    assert line.startswith("* ") and "2xNx4x7x7" in line and "layer3" in line
    if "end_to_end" in ref:  # measured by scripts/models/measure_reference.py
        assert f"{100 * ref['end_to_end']['accuracy']:.2f}%" in line
        assert f"{ref['end_to_end']['file_bytes_per_image']:.1f}" in line


def test_an_empty_model_name_is_no_model(tmp_path: Path, sample, capsys) -> None:
    # `--model ''` silently ran the default model.
    images, _ = sample
    np.save(tmp_path / "x.npy", images[:2])
    one_line_error(*run_cli(capsys, "edge", "--images", tmp_path / "x.npy", "-o", tmp_path / "x.spk", "--model", "")[::2],
                   2, "--model", "no reference model ''")
    assert not (tmp_path / "x.spk").exists()


def test_a_stream_cut_short_gives_the_predictions_of_what_arrived(tmp_path: Path, sample, capsys) -> None:
    # Before: cloud wrote nothing when the stream broke, though every image before the break had run.
    images, _ = sample
    np.save(tmp_path / "x.npy", images[:6])
    code, _, err = run_cli(capsys, "edge", "--images", tmp_path / "x.npy", "-o", tmp_path / "s.spk", "-q")
    assert code == 0, err
    data = (tmp_path / "s.spk").read_bytes()
    whole = tmp_path / "whole.npy"
    assert run_cli(capsys, "cloud", tmp_path / "s.spk", "-o", whole, "-q")[0] == 0
    index_at = int.from_bytes(data[-24:-16], "little")
    (tmp_path / "cut.spk").write_bytes(data[:index_at])  # every image, no end
    code, _, err = run_cli(capsys, "cloud", tmp_path / "cut.spk", "-o", tmp_path / "p.npy", "-q")
    one_line_error(code, err, 1, "no index", "the predictions of the 6 images before it are in")
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), np.load(whole))
    # An output that exists is not replaced by a failed run (it had been, by the partial
    # predictions): they go to a new file beside it, named in the error.
    np.save(tmp_path / "kept.npy", np.arange(100))
    for partial in ("kept.partial.npy", "kept.partial-2.npy"):
        code, _, err = run_cli(capsys, "cloud", tmp_path / "cut.spk", "-o", tmp_path / "kept.npy", "-q")
        one_line_error(code, err, 1, "no index", f"the predictions of the 6 images before it are in {tmp_path / partial}")
        np.testing.assert_array_equal(np.load(tmp_path / "kept.npy"), np.arange(100))
        np.testing.assert_array_equal(np.load(tmp_path / partial), np.load(whole))

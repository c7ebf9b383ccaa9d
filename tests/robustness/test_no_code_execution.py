"""Checkpoints and metadata are data: loading them never runs code."""

import os

import pytest
import torch

import hostile
import spikecodec




class _Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_checkpoint_is_refused_without_running_it(tmp_path):
    from spikecodec.models.checkpoint import load_model, read_checkpoint

    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pt"
    torch.save({"config": {"model": "snn-resnet"}, "model": _Payload(marker)}, ckpt)
    for load in (read_checkpoint, load_model):
        with pytest.raises(Exception) as info:
            load(ckpt)
        assert "Unpickl" in type(info.value).__name__ or "weights_only" in str(info.value)
    assert not marker.exists()


def test_command_line_refuses_a_malicious_tensor_file(tmp_path, capsys):
    from spikecodec_cli.main import main

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save(_Payload(marker), evil)
    assert main(["encode", str(evil), "-o", str(tmp_path / "x.spk")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "x.spk").exists()


def test_metadata_that_looks_like_objects_stays_plain_json():
    data = hostile.with_metadata(hostile.valid_vectors()["spikes-raw"], hostile.HOSTILE_METADATA[4])
    with spikecodec.open(data) as r:
        assert r.metadata == {"__reduce__": ["os.system", ["echo pwned"]], "py/object": "os.system"}

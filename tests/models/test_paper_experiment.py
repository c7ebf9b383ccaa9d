import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec.models.checkpoint import save_checkpoint
from spikecodec.models.factory import build_model

SCRIPT = Path(__file__).parents[2] / "scripts" / "experiments" / "paper_experiment.py"


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("paper_experiment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_measure_run_counts_bits_and_real_file_bytes(tmp_path, fmnist_test, tiny_config, sweep):
    config = tiny_config(unit={"kind": "spiking", "channels": 2, "stride": 2})  # 8x14x14 -> 2x7x7
    path = tmp_path / "last.pt"
    save_checkpoint(path, build_model(config).eval(), config, history=[{"epoch": 1}])
    images, labels = fmnist_test[0][:64], fmnist_test[1][:64]
    r = sweep.measure_run("tiny", "resnet", path, images, labels, energy_images=16)
    assert r["feature_shape"] == [8, 14, 14] and r["code_shape"] == [2, 2, 7, 7]
    assert r["code_bits"] == 2 * 2 * 7 * 7
    assert r["bits_ratio"] == 32 * 8 * 14 * 14 / (2 * 2 * 7 * 7)
    codes = sweep._edge_codes(build_model(config).eval(), images).numpy().astype(np.uint8)
    assert r["file_bytes_total"] == len(spikecodec.encode(codes))  # the default codec, whole file
    assert r["file_ratio"] == pytest.approx(4 * 8 * 14 * 14 / (r["file_bytes_total"] / 64))
    assert r["spike_rate"] == pytest.approx(codes.mean())
    assert 0 <= r["test_acc"] <= 1 and r["edge_energy_nj"] > 0
    assert r["bottlenet_edge_energy_nj"] > 0 and r["bottlenetpp_edge_energy_nj"] > 0


def _fake(name, arch, acc, unit="spiking", **extra):
    base = {"name": name, "arch": arch, "split": "layer3", "unit": {"kind": unit}, "test_acc": acc,
            "test_images": 10000, "edge_energy_nj": 100.0, "feature_shape": [64, 7, 7]}
    if unit != "identity":
        base.update(code_shape=[2, 2, 7, 7], bits_ratio=512.0, file_bytes_per_image=10.0, file_ratio=1254.4,
                    spike_rate=0.2, bottlenet_edge_energy_nj=1000.0, bottlenetpp_edge_energy_nj=900.0)
    base.update(extra)
    return base


def test_report_from_a_fake_log(tmp_path, sweep):
    records = [
        _fake("resnet-nobottleneck", "resnet", 0.9100, unit="identity"),
        _fake("resnet-a", "resnet", 0.9060),  # drop 0.40 points: both targets
        _fake("resnet-b", "resnet", 0.9000, bits_ratio=128.0),  # drop 1.0: bytes target only; bits < 256x
        _fake("resnet-c", "resnet", 0.8990),  # drop 1.1: neither
        _fake("resnet-a", "resnet", 0.9080),  # a later record of the same run replaces the first
    ]
    log = tmp_path / "m.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    rows = {r["name"]: r for r in sweep.build_rows(sweep._read_measurements(log))}
    assert rows["resnet-a"]["drop"] == pytest.approx(0.002)
    assert (rows["resnet-a"]["bits_target"], rows["resnet-a"]["bytes_target"]) == (True, True)
    assert (rows["resnet-b"]["bits_target"], rows["resnet-b"]["bytes_target"]) == (False, True)
    assert (rows["resnet-c"]["bits_target"], rows["resnet-c"]["bytes_target"]) == (False, False)
    out = tmp_path / "report" / "table"
    sweep.main(["report", "--measurements", str(log), "--out", str(out), "--notes", str(tmp_path / "none")])
    text = out.with_suffix(".md").read_text()
    assert "| resnet | layer3 | 64x7x7 | 2x2x7x7 | - | 90.80 | +0.20 | 512x | 10.00 | 1254x |" in text
    assert "points drop: met by resnet layer3 2x2x7x7." in text
    assert "10.0x | >=256x bits, >=1024x bytes |" in text
    data = json.loads(out.with_suffix(".json").read_text())
    assert [r["name"] for r in data["rows"]] == ["resnet-a", "resnet-b", "resnet-c"]
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert math.isclose(data["references"][0]["test_acc"], 0.91)


def test_train_commands_parse_and_start_from_the_backbone(sweep):
    spec = importlib.util.spec_from_file_location("train_reference", sweep.TRAIN_SCRIPT)
    train_reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_reference)
    for exp, recipe, epochs in [(sweep.Experiment("resnet", "layer2", 2, 2), "three_phase", [0, 1, 1]),
                                (sweep.Experiment("resnet", "layer3", 1, recipe="joint", epochs=(1,)), "end_to_end", [1])]:
        args = train_reference.parse_args([*sweep.train_command(exp), "--run-dir", "x"])
        assert (args.recipe, args.epochs, args.split) == (recipe, epochs, exp.split)
        assert (args.code_channels, args.stride) == (exp.channels, exp.stride)
        assert args.init_from == "runs/models/snn-resnet-fmnist-nobottleneck/last.pt"
    assert len({e.name for e in sweep.EXPERIMENTS}) == len(sweep.EXPERIMENTS)

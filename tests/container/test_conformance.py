"""Every conformance vector in spec/ behaves as spec/manifest.json says."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import spikecodec

SPEC = Path(__file__).resolve().parents[2] / "spec"
MANIFEST = json.loads((SPEC / "manifest.json").read_text())


def _generator():
    spec = importlib.util.spec_from_file_location("spec_generate", SPEC / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


generate = _generator()


@pytest.mark.parametrize("name", sorted(MANIFEST["valid"]))
def test_valid_vector_decodes_bit_exactly(name):
    entry = MANIFEST["valid"][name]
    data = (SPEC / entry["spk"]).read_bytes()
    expected = np.load(SPEC / entry["npy"])
    got = spikecodec.decode(data)
    assert got.dtype == np.uint8 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert spikecodec.validate(data).ok


@pytest.mark.parametrize("name", sorted(MANIFEST["valid"]))
def test_valid_vector_reencodes_byte_for_byte(name):
    entry = MANIFEST["valid"][name]
    params = json.loads((SPEC / entry["params"]).read_text())
    array = np.load(SPEC / entry["npy"])
    assert generate.build_valid(params, array) == (SPEC / entry["spk"]).read_bytes()


@pytest.mark.parametrize("name", sorted(MANIFEST["invalid"]))
def test_invalid_vector_is_rejected_for_its_reason(name):
    entry = MANIFEST["invalid"][name]
    data = (SPEC / entry["spk"]).read_bytes()
    report = spikecodec.validate(data)
    assert not report.ok
    matching = [p for p in report.problems if entry["problem"] in p.message]
    assert matching, report.problems
    assert entry["offset"] in [p.offset for p in matching], report.problems
    with pytest.raises(spikecodec.FormatError):
        spikecodec.decode(data)


def test_manifest_lists_every_vector_on_disk():
    listed = {e["spk"] for kind in ("valid", "invalid") for e in MANIFEST[kind].values()}
    on_disk = {str(p.relative_to(SPEC)) for p in (SPEC / "vectors").rglob("*.spk")}
    assert listed == on_disk


def test_vectors_match_what_the_generator_builds():
    """The generator still describes the published vectors (they never change)."""
    valid = {}
    for name, params in generate.VALID.items():
        valid[name] = generate.build_valid(params, generate.make_array(params["array"]))
    for name, (data, offset, problem) in generate.invalid_vectors(valid).items():
        entry = MANIFEST["invalid"][name]
        assert (SPEC / entry["spk"]).read_bytes() == data, name
        assert (entry["offset"], entry["problem"]) == (offset, problem)

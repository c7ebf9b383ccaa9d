"""Every conformance vector in spec/ behaves as spec/manifest.json says."""

import hashlib
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

import spikecodec
import spikecodec.prior

SPEC = Path(__file__).resolve().parents[2] / "spec"
MANIFEST = json.loads((SPEC / "manifest.json").read_text())


def _generator():
    spec = importlib.util.spec_from_file_location("spec_generate", SPEC / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


generate = _generator()


def _priors(entry):
    """The prior files a vector's manifest entry names (FORMAT.md 13: a named prior is supplied)."""
    return [SPEC / p for p in entry.get("priors", [])]


@pytest.fixture
def no_known_priors(monkeypatch):
    """No prior found but those given: none remembered from other files, no search folders."""
    monkeypatch.setattr(spikecodec.prior, "_found", {})
    monkeypatch.setattr(spikecodec.prior, "_embedded", spikecodec.prior.OrderedDict())
    monkeypatch.setattr(spikecodec.prior, "search_dirs", lambda: [])


@pytest.mark.parametrize("name", sorted(MANIFEST["valid"]))
def test_valid_vector_decodes_bit_exactly(name):
    entry = MANIFEST["valid"][name]
    data = (SPEC / entry["spk"]).read_bytes()
    expected = np.load(SPEC / entry["npy"])
    got = spikecodec.decode(data, priors=_priors(entry))
    assert got.dtype == np.uint8 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert spikecodec.validate(data, priors=_priors(entry)).ok


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
    report = spikecodec.validate(data, priors=_priors(entry))
    assert not report.ok
    matching = [p for p in report.problems if entry["problem"] in p.message]
    assert matching, report.problems
    assert entry["offset"] in [p.offset for p in matching], report.problems
    with pytest.raises(spikecodec.FormatError):
        spikecodec.decode(data, priors=_priors(entry))


def test_manifest_lists_every_vector_on_disk():
    listed = {e["spk"] for kind in ("valid", "invalid", "recover") for e in MANIFEST[kind].values()}
    on_disk = {str(p.relative_to(SPEC)) for p in (SPEC / "vectors").rglob("*.spk")}
    assert listed == on_disk
    priors = {e["prior"] for kind in ("priors", "invalid_priors") for e in MANIFEST[kind].values()}
    assert priors == {str(p.relative_to(SPEC)) for p in (SPEC / "vectors").rglob("*.prior")}
    named = {p for e in MANIFEST["valid"].values() for p in e.get("priors", [])}
    assert named <= {e["prior"] for e in MANIFEST["priors"].values()}
    assert {e["file"] for e in MANIFEST["tables"].values()} == {str(p.relative_to(SPEC)) for p in (SPEC / "tables").iterdir()}
    messages = {e[k] for e in MANIFEST["messages"].values() for k in ("msgs", "npy") if k in e}
    assert messages == {str(p.relative_to(SPEC)) for p in (SPEC / "vectors" / "messages").iterdir()}


def test_vectors_match_what_the_generator_builds():
    """The generator still describes the published vectors (they never change)."""
    valid = {}
    for name, params in generate.VALID.items():
        valid[name] = generate.build_valid(params, generate.make_array(params["array"]))
    for name, (data, offset, problem) in generate.invalid_vectors(valid).items():
        entry = MANIFEST["invalid"][name]
        assert (SPEC / entry["spk"]).read_bytes() == data, name
        assert (entry["offset"], entry["problem"]) == (offset, problem)
    for name, (data, recovered, offset, problem) in generate.recovery_vectors(valid).items():
        entry = MANIFEST["recover"][name]
        assert (SPEC / entry["spk"]).read_bytes() == data, name
        np.testing.assert_array_equal(np.load(SPEC / entry["npy"]), recovered)
        assert (entry["offset"], entry["problem"]) == (offset, problem)
    assert len(MANIFEST["valid"]) >= 45 and len(MANIFEST["invalid"]) >= 55
    for name, (data, stage, offset, problem) in generate.invalid_priors().items():
        entry = MANIFEST["invalid_priors"][name]
        assert (SPEC / entry["prior"]).read_bytes() == data, name
        assert (entry["stage"], entry["offset"], entry["problem"]) == (stage, offset, problem)
    for name, values in generate.tables().items():
        assert (SPEC / MANIFEST["tables"][name]["file"]).read_text() == "".join(f"{v}\n" for v in values)


# -- the codecs each entry's header names (spec/README.md) -----------------------------------------

CORE_CODECS = {"raw", "zstd", "order0", "context", "auto"}  # the codecs that are not optional (FORMAT.md 13)


def _entry_header(section: str, entry: dict) -> bytes:
    """The bytes that start with an entry's header: its file, or (messages) its header message."""
    if section == "messages":
        blob = (SPEC / entry["msgs"]).read_bytes()
        return blob[4 : 4 + int.from_bytes(blob[:4], "little")]
    return (SPEC / entry["spk"]).read_bytes()


def _header_codecs(data: bytes) -> list[str]:
    """The codec ids the header names, read with the library's own parser of the header body's
    structure; [] when the file fails FORMAT.md 10 before the body's values are read."""
    from spikecodec import layout
    from spikecodec.container.header import parse_preamble

    try:
        _, size = parse_preamble(data[:16])
    except spikecodec.FormatError:
        return []
    body, crc = data[16 : 16 + size], data[16 + size : 20 + size]
    if len(body) < 4 or len(crc) != 4 or layout.crc32(data[:16], body) != int.from_bytes(crc, "little"):
        return []
    rank, _, chunk_rank, reserved = body[:4]
    if not 1 <= rank <= 8 or not 1 <= chunk_rank <= rank or reserved:
        return []
    try:
        parsed = layout.header_body_compiled().parse(body)
        if layout.header_body_compiled().build(parsed) != bytes(body):
            return []
    except Exception:
        return []
    return [c.id for c in parsed.codecs]


ENTRIES = [(section, name) for section in ("valid", "invalid", "recover", "messages") for name in sorted(MANIFEST[section])]


@pytest.mark.parametrize("section,name", ENTRIES, ids=[f"{s}/{n}" for s, n in ENTRIES])
def test_manifest_codecs_are_what_the_header_names(section, name):
    entry = MANIFEST[section][name]
    data = _entry_header(section, entry)
    assert entry["codecs"] == _header_codecs(data)
    if section == "valid":
        with spikecodec.open(data, priors=_priors(entry)) as r:
            assert [c["id"] for c in r.header.codecs] == entry["codecs"]


OPTIONAL_CODEC_INVALID = sorted(n for n, e in MANIFEST["invalid"].items()
                                if set(e["codecs"]) - CORE_CODECS and e["code"] not in ("codec-pipeline", "codec-id"))


@pytest.mark.parametrize("name", OPTIONAL_CODEC_INVALID)
def test_a_reader_without_an_entrys_codec_reports_codec_pipeline(name, monkeypatch):
    """spec/README.md: a reader that implements only the codecs every reader has reports
    codec-pipeline at 16 for an entry that names another codec."""
    from spikecodec.codecs import registry
    from spikecodec.container import header

    monkeypatch.setattr(registry, "_REGISTRY", {k: v for k, v in registry._REGISTRY.items() if k in CORE_CODECS})
    monkeypatch.setattr(header, "_header_cache", {})
    entry = MANIFEST["invalid"][name]
    report = spikecodec.validate((SPEC / entry["spk"]).read_bytes(), priors=_priors(entry))
    assert [(p.code, p.offset) for p in report.problems][:1] == [("codec-pipeline", 16)], report.problems


# -- priors (FORMAT.md 14) ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MANIFEST["priors"]))
def test_prior_file_is_what_the_manifest_says(name):
    entry = MANIFEST["priors"][name]
    codec = entry["codec"]
    data = (SPEC / entry["prior"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    prior = spikecodec.load_prior(SPEC / entry["prior"])
    assert prior.digest == entry["sha256"] and prior.data == data
    assert (prior.codec, prior.geometry) == (codec, entry["geometry"])
    spikecodec.get_codec(codec).with_prior(prior)  # laid out as the codec's tables, values in range


@pytest.mark.parametrize("name", sorted(n for n, e in MANIFEST["valid"].items() if e.get("priors")))
def test_prior_vector_names_its_prior_by_digest(name, no_known_priors):
    entry = MANIFEST["valid"][name]
    data = (SPEC / entry["spk"]).read_bytes()
    (prior_path,) = entry["priors"]
    params = json.loads((SPEC / entry["params"]).read_text())
    assert prior_path == "vectors/" + (params.get("encode") or params.get("stream"))["prior"]
    digest = hashlib.sha256((SPEC / prior_path).read_bytes()).hexdigest()
    with spikecodec.open(data, priors=_priors(entry)) as r:
        assert r.header.codecs[0]["prior"] == digest
        embedded = r.embeds_prior
    report = spikecodec.validate(data)  # no prior given
    if embedded:  # the header holds it: nothing else is needed
        assert report.ok, report.problems
        np.testing.assert_array_equal(spikecodec.decode(data), np.load(SPEC / entry["npy"]))
    else:
        assert [(p.offset, digest in p.message and "which was not given" in p.message) for p in report.problems] == [(16, True)]
        with pytest.raises(spikecodec.FormatError, match="which was not given"):
            spikecodec.decode(data)


@pytest.mark.parametrize("name", sorted(MANIFEST["invalid_priors"]))
def test_invalid_prior_is_rejected_for_its_reason(name):
    entry = MANIFEST["invalid_priors"][name]
    path = SPEC / entry["prior"]
    if entry["stage"] == "load":
        with pytest.raises(spikecodec.FormatError) as info:
            spikecodec.load_prior(path)
        assert entry["problem"] in info.value.message
        assert info.value.offset == entry["offset"]
    else:
        prior = spikecodec.load_prior(path)
        with pytest.raises(ValueError) as info:
            spikecodec.get_codec(prior.codec).with_prior(prior)
        assert entry["problem"] in str(info.value)


# -- the ctxmix tables (FORMAT.md 9.4.9) -----------------------------------------------------------


def _round(x: float) -> int:
    return math.floor(x + 0.5)


def _formulas() -> dict[str, list[int]]:
    """The tables as FORMAT.md 9.4.9 defines them, computed here independently of the codec."""
    stretch = [-2047] + [min(2047, max(-2047, _round(256 * math.log(i / (4096 - i))))) for i in range(1, 4096)]
    squash = [min(4095, max(1, _round(4096 / (1 + math.exp(-d / 256))))) for d in range(-2047, 2048)]
    rate = [(1 << 17) // (2 * n + 3) for n in range(1024)]
    return {"stretch": stretch, "squash": squash, "rate": rate}


def _table_file(name: str) -> list[int]:
    return [int(line) for line in (SPEC / MANIFEST["tables"][name]["file"]).read_text().splitlines()]


@pytest.mark.parametrize("name", ["stretch", "squash", "rate"])
def test_ctxmix_tables_match_the_files_and_the_formulas(name):
    from spikecodec.codecs.kernels import binary

    kernel = [int(v) for v in getattr(binary, name.upper())]
    expected = _formulas()[name]
    assert len(expected) == {"stretch": 4096, "squash": 4095, "rate": 1024}[name]
    assert _table_file(name) == expected
    assert kernel == expected


def test_ctxmix_table_formulas_have_no_near_ties():
    """FORMAT.md 9.4.9: no exact value lies within 1e-7 of a rounding tie, so doubles compute them."""
    values = [256 * math.log(i / (4096 - i)) for i in range(1, 4096)]
    values += [4096 / (1 + math.exp(-d / 256)) for d in range(-2047, 2048)]
    assert min(abs((v - math.floor(v)) - 0.5) for v in values) > 1e-7


# -- the version-1.3 vectors hold what they are named for ------------------------------------------


def _payload_sizes(name):
    """(payload size, states a height) of each record of a valid vector."""
    entry = MANIFEST["valid"][name]
    data = (SPEC / entry["spk"]).read_bytes()
    out = []
    with spikecodec.open(data, priors=_priors(entry)) as r:
        compact = any(e.name == "compact-records" for e in r.header.extensions)
        head = 16 + 16 * r.header.chunk_rank
        packed = [r.chunk_spec(i).packed_nbytes for i in range(len(r.entries))]
        for e in r.entries:
            if not compact:
                out.append((e.size - head - 4, False))
                continue
            v, shift, at = 0, 0, e.offset
            while True:  # the size varint
                v |= (data[at] & 0x7F) << shift
                shift += 7
                at += 1
                if not data[at - 1] & 0x80:
                    break
            out.append(((v - 1) >> 1, bool((v - 1) & 1)))
    return out, packed


def test_ctxmix_packed_holds_a_packed_payload():
    sizes, packed = _payload_sizes("ctxmix-packed")
    assert any(size == b for (size, _), b in zip(sizes, packed))


def test_ctxmix_hashed_hashes_model_a_and_the_position_sets():
    T, _, C, H, W = np.load(SPEC / MANIFEST["valid"]["ctxmix-hashed"]["npy"]).shape
    pc = min(T, 4) * C * H * W
    assert pc * 1024 > 1 << 22 and pc > 1 << 16


def test_compact_vectors_cover_both_checks_and_a_stated_height():
    sizes, _ = _payload_sizes("compact-ctxmix-crc32")
    assert any(size >= 256 for size, _ in sizes)  # a CRC-32 check
    sizes, _ = _payload_sizes("compact-ctxmix-small")
    assert len(sizes) > 1 and all(size < 256 for size, _ in sizes)  # CRC-16 checks
    sizes, _ = _payload_sizes("compact-streamed")
    assert [stated for _, stated in sizes].count(True) == 1


# -- the version-1.4 (mix) vectors hold what they are named for -------------------------------------

MIX_CODED = ["mix-spikes", "mix-counts2", "mix-counts4", "mix-counts8", "mix-chunks", "mix-hashed", "compact-mix",
             "prior-mix-named", "prior-mix-embedded"]


def _mix_geometry(name):
    T, _, C, H, W = np.load(SPEC / MANIFEST["valid"][name]["npy"]).shape
    bits = json.loads((SPEC / MANIFEST["valid"][name]["params"]).read_text())["array"]["bits"]
    return T, C, H, W, bits


@pytest.mark.parametrize("name", MIX_CODED)
def test_mix_vectors_code_their_chunks(name):
    """FORMAT.md 9.4.10: each of these holds at least one coded payload (not the packed elements)."""
    sizes, packed = _payload_sizes(name)
    assert json.loads((SPEC / MANIFEST["valid"][name]["params"]).read_text())["encode"]["codec"] == "mix"
    assert any(size < b for (size, _), b in zip(sizes, packed))


def test_mix_packed_holds_a_packed_payload():
    sizes, packed = _payload_sizes("mix-packed")
    assert all(size == b for (size, _), b in zip(sizes, packed))


def test_mix_vectors_reach_history_groups_chunks_and_escapes():
    T, C, H, W, bits = _mix_geometry("mix-spikes")
    assert T >= 3 and C >= 6 and C % 4 != 1  # p2 and the history; two groups of channels: lines of D, E
    assert _mix_geometry("mix-counts8")[4] == 8 and _mix_geometry("mix-counts4")[4] == 4
    sizes, _ = _payload_sizes("mix-chunks")
    assert len(sizes) >= 3
    assert len(_payload_sizes("compact-mix")[0]) > 1


def test_mix_hashed_hashes_tables_c_and_g():
    """FORMAT.md 9.4.10: positions above 2^18 make hb = 22 and tables C and G hashed; 8-bit
    counts hash G even at hb = 16."""
    from spikecodec.codecs.kernels import mix

    T, C, H, W, bits = _mix_geometry("mix-hashed")
    pc = min(T, 4) * C * H * W
    assert pc > 1 << 18 and mix.hash_bits(T, C, H, W) == 22
    counts, sizes = mix.context_counts(T, C, H, W, bits), mix.table_sizes(T, C, H, W, bits)
    assert counts[2] > sizes[2] and counts[6] > sizes[6]  # C, G hashed
    assert counts[0] == sizes[0] and counts[1] == sizes[1] and counts[5] == sizes[5]  # A, B, F direct
    T, C, H, W, bits = _mix_geometry("mix-counts8")
    assert mix.hash_bits(T, C, H, W) == 16
    counts, sizes = mix.context_counts(T, C, H, W, bits), mix.table_sizes(T, C, H, W, bits)
    assert counts[6] > sizes[6] and counts[2] == sizes[2]


def test_mix_shares_the_ctxmix_arithmetic():
    """One coder and one state arithmetic (kernels/binary.py) serve ctxmix (9.4.9) and mix (9.4.10)."""
    from spikecodec.codecs.kernels import binary, ctxmix, mix

    for name in ("code_bit", "stretched", "updated", "squashed", "clamped_weight", "start", "finish", "ends_as_encoded"):
        assert getattr(ctxmix, name) is getattr(binary, name) is getattr(mix, name)


# -- recovery (FORMAT.md 10) -----------------------------------------------------------------------


def _check_recovered_by_the_command(data, expected, tmp_path):
    """``spikecodec recover`` of ``data`` succeeds and writes exactly ``expected``; where that
    is 0 rows, FORMAT.md 10's "nothing to recover", it fails writing nothing, and a reader
    opened with ``recover=True`` gives the empty array."""
    from cli.main import main as cli

    src, dst = tmp_path / "in.spk", tmp_path / "out.spk"
    src.write_bytes(data)
    if expected.shape[0] == 0:
        assert cli(["recover", str(src), "-o", str(dst), "-q"]) != 0 and not dst.exists()
        got = spikecodec.load(data, recover=True)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        return
    assert cli(["recover", str(src), "-o", str(dst), "-q"]) == 0
    got = spikecodec.load(dst)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", sorted(MANIFEST["recover"]))
def test_recovery_vector_is_rejected_then_recovered(name, tmp_path):
    """A plain read rejects the file for its reason; ``spikecodec recover`` keeps exactly the
    rows the manifest's array holds (FORMAT.md 10: whole rows before the first bad record, and
    before the row of the first chunk that does not decode)."""
    entry = MANIFEST["recover"][name]
    data = (SPEC / entry["spk"]).read_bytes()
    expected = np.load(SPEC / entry["npy"])
    report = spikecodec.validate(data)
    assert not report.ok
    assert entry["offset"] in [p.offset for p in report.problems if entry["problem"] in p.message], report.problems
    from spikecodec.problem_codes import CODES

    assert entry.get("code") in CODES, f"spec/generate.py: RECOVER_CODES needs a code for {name!r}"
    assert (entry["code"], entry["offset"]) in [(p.code, p.offset) for p in report.problems if entry["problem"] in p.message], report.problems
    with pytest.raises(spikecodec.FormatError):
        spikecodec.decode(data)
    _check_recovered_by_the_command(data, expected, tmp_path)
    with spikecodec.open(data, recover=True) as r:  # the walk itself: rows whose records check
        assert r.recovered and r.shape[0] >= expected.shape[0]


@pytest.mark.parametrize("name", sorted(MANIFEST["recover_complete"]))
def test_recovering_a_file_that_reads_cleanly_gives_what_reading_gives(name, tmp_path):
    """FORMAT.md 10: recovery of a file without a problem is its read, not the walk's result (a
    complete file with G = 0 keeps its header's shape[0] rows)."""
    entry = MANIFEST["recover_complete"][name]
    data = (SPEC / entry["spk"]).read_bytes()
    expected = np.load(SPEC / entry["npy"])
    assert spikecodec.validate(data).ok
    _check_recovered_by_the_command(data, expected, tmp_path)
    with spikecodec.open(data, recover=True) as r:
        assert r.shape == expected.shape
        np.testing.assert_array_equal(r.read(), expected)


# -- the issue-23 vectors hold what they are named for ---------------------------------------------


def _canonical(name):
    from spikecodec.codecs._entropy_model import to_canonical

    entry = MANIFEST["valid"][name]
    params = json.loads((SPEC / entry["params"]).read_text())["encode"]
    array = np.load(SPEC / entry["npy"])
    axes = tuple(params.get("axes") or "TNCHW"[: array.ndim])
    return to_canonical(array[: params.get("chunk", [array.shape[0]])[0]], axes)  # chunk 0


def test_issue23_valid_vectors_reach_their_rules():
    assert _canonical("context-history").shape[0] >= 4 and _canonical("countctx-history").shape[0] >= 4
    x = _canonical("order0-halving")
    assert x.shape[2] == 1 and x.size > 1024  # one group, one significance context: halved
    assert (x > 0).sum() > 1024  # magnitude node 1 too
    x = _canonical("context-halving")
    assert x.shape[:3] == (1, 1, 1) and (x == 0).sum() > 2048  # context 0 (no neighbour fired) > 1024 times
    assert _canonical("order0-gm-cap").shape[2] > 64  # Gm = 2^(14 - 8) = 64 < C
    assert _canonical("context-c300").shape[2] > 256  # G = 256 < C
    merged = _canonical("context-merged-axes")  # axes N C T S H W: N and S merged, transposed
    assert merged.shape == (2, 2 * 3, 3, 4, 5)  # T, N x S, C, H, W
    assert _canonical("context-no-h").shape[3] == 1 and _canonical("countctx-no-w").shape[4] == 1
    with spikecodec.open((SPEC / MANIFEST["valid"]["streamed-flush"]["spk"]).read_bytes()) as r:
        heights = list(r.entries.row_length[:: len(r._inner)])
    assert heights[0] < r.chunk_shape[0] and heights[1] == r.chunk_shape[0] and len(heights) > 2  # flushed short mid-stream
    with spikecodec.open((SPEC / MANIFEST["valid"]["empty-inner-axis"]["spk"]).read_bytes()) as r:
        assert len(r.entries) == 0 and r.shape == (3, 0, 4)  # G = 0: no chunk, shape[0] from the header


# -- the ctxmix prior vectors of the outside implementation's second round hold what they are named for


def _prior_of(name):
    (path,) = MANIFEST["valid"][name]["priors"]
    return spikecodec.load_prior(SPEC / path)


@pytest.mark.parametrize("name", ["prior-ctxmix-long-t", "prior-ctxmix-packed-short-row", "prior-ctxmix-extreme-weights",
                                  "prior-ctxmix-odd-sum", "prior-ctxmix-hashed", "prior-ctxmix-a-direct"])
def test_ctxmix_prior_vectors_code_their_chunks(name):
    """FORMAT.md 9.4.9: each of these codes at least one chunk from its prior (a model starts)."""
    sizes, packed = _payload_sizes(name)
    assert any(size < b for (size, _), b in zip(sizes, packed))


def test_ctxmix_prior_vectors_reach_their_rules():
    from spikecodec.codecs.kernels import ctxmix

    T = np.load(SPEC / MANIFEST["valid"]["prior-ctxmix-long-t"]["npy"]).shape[0]
    assert T > 4 and _prior_of("prior-ctxmix-long-t").geometry["T"] == 4  # min(T, 4)
    sizes, packed = _payload_sizes("prior-ctxmix-packed-short-row")  # the last row, of height 1, packed
    with spikecodec.open((SPEC / MANIFEST["valid"]["prior-ctxmix-packed-short-row"]["spk"]).read_bytes()) as r:
        heights = list(r.entries.row_length)
    assert _prior_of("prior-ctxmix-packed-short-row").geometry["T"] == 3 and heights[-1] == 1
    assert all((size == b) == (height == 1) for (size, _), b, height in zip(sizes, packed, heights))
    weights = _prior_of("prior-ctxmix-extreme-weights").tables["weights"]
    assert (np.abs(weights.astype(np.int64)) > 1 << 20).any()  # beyond the clamp, used as stored
    g = _prior_of("prior-ctxmix-hashed").geometry
    assert min(g["T"], 4) * g["C"] * g["H"] * g["W"] > 1 << 16  # 512 + 2^16 significance sets
    g = _prior_of("prior-ctxmix-a-direct").geometry
    assert ctxmix.context_counts(g["T"], g["C"], g["H"], g["W"], g["bits"])[0] == 1 << 22  # K_A = 2^22: direct


# -- the mix prior vectors of the outside implementation's third round hold what they are named for


def _decode_mix_chunk(name, states, weights, codec="mix"):
    """Decode the one chunk of valid vector ``name`` (codec mix or ``codec``, classic records, axes
    T, N, C, H, W) from the tables ``states`` and ``weights``: (status of the kernel's
    decode_into, array)."""
    import importlib

    mix = importlib.import_module(f"spikecodec.codecs.kernels.{codec}")

    entry = MANIFEST["valid"][name]
    data = (SPEC / entry["spk"]).read_bytes()
    expected = np.load(SPEC / entry["npy"])
    bits = json.loads((SPEC / entry["params"]).read_text())["array"]["bits"]
    with spikecodec.open(data, priors=_priors(entry)) as r:
        (e,) = r.entries
        head = 16 + 16 * r.header.chunk_rank
    payload = np.frombuffer(data[e.offset + head : e.offset + e.size - 4], np.uint8)
    x = np.zeros(expected.shape, np.uint8)
    status = mix.decode_into(payload, x, bits, states.astype(np.uint32), weights.astype(np.int32), False)
    return status, x


@pytest.mark.parametrize("name", ["prior-mix-clamp-update", "prior-mix-clamp-bound", "prior-mix-f-hashed"])
def test_mix_prior_vectors_code_their_chunks_and_their_priors_matter(name):
    """FORMAT.md 9.4.10: each codes its chunk from its prior (a model starts), and decodes to its
    array from the prior's tables as stored - and not from the altered tables of a misreading."""
    sizes, packed = _payload_sizes(name)
    assert all(size < b for (size, _), b in zip(sizes, packed))
    prior = _prior_of(name)
    states, weights = prior.tables["states"], prior.tables["weights"]
    status, x = _decode_mix_chunk(name, states, weights)
    assert status == 0 and np.array_equal(x, np.load(SPEC / MANIFEST["valid"][name]["npy"]))
    if name == "prior-mix-clamp-bound":  # (the bound's misreadings are inside the kernel: see the outside mutants)
        return
    if name == "prior-mix-clamp-update":  # the weights clamped before their first use
        altered = (states, np.clip(weights.astype(np.int64), -(1 << 20), 1 << 20))
    else:  # table F read elsewhere: fresh states where the chunk's keys hash to
        from spikecodec.codecs.kernels import mix

        g = prior.geometry
        sizes = mix.table_sizes(g["T"], g["C"], g["H"], g["W"], g["bits"])
        f0 = int(sizes[:5].sum())
        fresh = states.copy()
        fresh[f0 : f0 + int(sizes[5])] = 0
        altered = (fresh, weights)
    status, x = _decode_mix_chunk(name, *altered)
    assert status != 0 or not np.array_equal(x, np.load(SPEC / MANIFEST["valid"][name]["npy"]))


def test_mix_prior_vectors_reach_their_rules():
    from spikecodec.codecs.kernels import mix

    prior = _prior_of("prior-mix-clamp-update")
    g = prior.geometry
    nsig = int(mix.groups(g["C"])) * min(g["T"], 4) * 16
    weights = prior.tables["weights"].astype(np.int64)
    sig, mag = weights[: 6 * nsig].reshape(-1, 6), weights[6 * nsig :].reshape(-1, 3)
    assert (sig[:, 0] > 1 << 20).all() and (sig[:, 2] > 1 << 20).all() and (sig[:, 4] < -(1 << 20)).all()
    assert (mag[:, 0] > 1 << 20).all() and (mag[:, 1] < -(1 << 20)).all()  # beyond the clamp in every set

    prior = _prior_of("prior-mix-clamp-bound")
    g = prior.geometry
    nsig = int(mix.groups(g["C"])) * min(g["T"], 4) * 16
    weights = prior.tables["weights"].astype(np.int64)
    sig, mag = weights[: 6 * nsig].reshape(-1, 6), weights[6 * nsig :].reshape(-1, 3)
    assert (sig[:, [0, 2]] > 1 << 20).all() and (sig[:, [1, 3]] > -(1 << 20)).all() and (mag[:, 0] > 1 << 20).all()
    assert ((prior.tables["states"] & 1023) == 1023).all()  # the slowest rate: the predictions stay near -300

    prior = _prior_of("prior-mix-f-hashed")
    g = prior.geometry
    T, C, H, W, bits = g["T"], g["C"], g["H"], g["W"], g["bits"]
    counts, sizes = mix.context_counts(T, C, H, W, bits), mix.table_sizes(T, C, H, W, bits)
    assert bits == 8 and counts[5] > sizes[5] == 1 << 22  # G TP NN 256 > 2^22: F hashed
    f0 = int(sizes[:5].sum())
    states = prior.tables["states"].astype(np.int64)
    assert not states[:f0].any() and not states[f0 + int(sizes[5]) :].any()  # only F is not fresh
    table_f = states[f0 : f0 + int(sizes[5])]
    array = np.load(SPEC / MANIFEST["valid"]["prior-mix-f-hashed"]["npy"])
    keys = sorted({key for key, _ in generate._mix_f_keys(array, bits)})
    slots = {((key * 0x9E3779B97F4A7C15) % (1 << 64)) >> 42 for key in keys}
    assert set(np.flatnonzero(table_f).tolist()) == slots  # set exactly at the slots the chunk's keys hash to
    assert sum(bool(table_f[key]) for key in keys if key < table_f.size) < len(keys) // 10  # not where they'd index directly


# -- the version-1.5 (winmix) vectors hold what they are named for ----------------------------------

WINMIX_CODED = ["winmix-spikes", "winmix-counts2", "winmix-counts4", "winmix-counts8", "winmix-chunks", "winmix-hashed",
                "winmix-wide-c", "winmix-mid-c", "winmix-long-t", "winmix-rate", "winmix-merged-axes", "compact-winmix",
                "prior-winmix-named", "prior-winmix-embedded", "prior-winmix-long-t", "prior-winmix-conf"]


@pytest.mark.parametrize("name", WINMIX_CODED)
def test_winmix_vectors_code_their_chunks(name):
    """FORMAT.md 9.4.11: each of these holds at least one coded payload (not the packed elements)."""
    sizes, packed = _payload_sizes(name)
    assert json.loads((SPEC / MANIFEST["valid"][name]["params"]).read_text())["encode"]["codec"] == "winmix"
    assert any(size < b for (size, _), b in zip(sizes, packed))


def test_winmix_packed_vectors_hold_packed_payloads():
    for name in ("winmix-packed", "winmix-packed-transposed"):
        sizes, packed = _payload_sizes(name)
        assert all(size == b for (size, _), b in zip(sizes, packed)), name
    params = json.loads((SPEC / MANIFEST["valid"]["winmix-packed-transposed"]["params"]).read_text())["encode"]
    assert params["axes"][0] != "T"  # the chunk's own order is not the canonical view's


def test_winmix_vectors_reach_their_rules():
    """Hashed tables, channel groups, steps, the learning rate's changes, all-zero endings."""
    from spikecodec.codecs.kernels import mix, winmix

    T, C, H, W, bits = _mix_geometry("winmix-hashed")
    assert min(T, 4) * C * H * W > 1 << 18 and mix.hash_bits(T, C, H, W) == 22
    counts, sizes = winmix.context_counts(T, C, H, W, bits), winmix.table_sizes(T, C, H, W, bits)
    assert counts[2] > sizes[2] and counts[5] > sizes[5]  # C, G hashed
    T, C, H, W, bits = _mix_geometry("winmix-counts8")
    counts, sizes = winmix.context_counts(T, C, H, W, bits), winmix.table_sizes(T, C, H, W, bits)
    assert bits == 8 and counts[4] > sizes[4] == 1 << 22  # G TP NN 256 > 2^22: F hashed
    assert _mix_geometry("winmix-counts4")[4] == 4 and _mix_geometry("winmix-counts2")[4] == 2
    assert _mix_geometry("winmix-wide-c")[1] > 256 + 4  # groups wrap at 256; more than one group of 4 past 255
    assert 64 < _mix_geometry("winmix-mid-c")[1] <= 256  # mix's groups would wrap, winmix's do not
    assert _mix_geometry("winmix-long-t")[0] > 8  # tp capped at 3, the history wraps
    assert len(_payload_sizes("winmix-chunks")[0]) >= 3 and len(_payload_sizes("compact-winmix")[0]) > 1
    # Each chunk of winmix-rate codes more than 38912 significance decisions: rate 42, 41 from D =
    # 1024, 40 from D = 38 x 1024 (14 + floor(28 2^20 / (2^20 + D))).
    assert 14 + (28 << 20) // ((1 << 20) + 1024) == 41 and 14 + (28 << 20) // ((1 << 20) + 37 * 1024) == 41
    assert 14 + (28 << 20) // ((1 << 20) + 38 * 1024) == 40
    params = json.loads((SPEC / MANIFEST["valid"]["winmix-rate"]["params"]).read_text())
    shape, chunk = params["array"]["shape"], params["encode"]["chunk"]
    per_chunk = int(np.prod(chunk + shape[len(chunk):]))
    assert per_chunk > 38 * 1024 and shape[1] // chunk[1] >= 2 and shape[1] % chunk[1] == 0
    assert [size for size, _ in _payload_sizes("winmix-zeros")[0]] == [1]  # ends without a final byte
    assert [size for size, _ in _payload_sizes("winmix-zeros-tiny")[0]] == [0]
    assert np.load(SPEC / MANIFEST["valid"]["prior-winmix-long-t"]["npy"]).shape[0] == 6
    assert _prior_of("prior-winmix-long-t").geometry["T"] == 4


def test_winmix_conf_prior_holds_every_confidence_and_matters():
    """prior-winmix-conf: table X's counts give conf 0 .. 3, each bound reached from both sides;
    the chunk decodes from the prior as stored, and not with X's counts read as 0 (conf 0)."""
    from spikecodec.codecs.kernels import winmix

    prior = _prior_of("prior-winmix-conf")
    g = prior.geometry
    sizes = winmix.table_sizes(g["T"], g["C"], g["H"], g["W"], g["bits"])
    x0 = int(sizes[:7].sum())
    states = prior.tables["states"]
    assert set(np.unique(states[x0 : x0 + int(sizes[7])] & 1023).tolist()) == {0, 1, 2, 3, 11, 12}
    status, x = _decode_mix_chunk("prior-winmix-conf", states, prior.tables["weights"], "winmix")
    expected = np.load(SPEC / MANIFEST["valid"]["prior-winmix-conf"]["npy"])
    assert status == 0 and np.array_equal(x, expected)
    fresh = states.copy()
    fresh[x0 : x0 + int(sizes[7])] &= ~np.uint32(1023)
    status, x = _decode_mix_chunk("prior-winmix-conf", fresh, prior.tables["weights"], "winmix")
    assert status != 0 or not np.array_equal(x, expected)


# -- the version-1.10 (countmix) vectors hold what they are named for --------------------------------

COUNTMIX_CODED = ["countmix-spikes", "countmix-counts2", "countmix-counts4", "countmix-counts8", "countmix-above7",
                  "countmix-c1", "countmix-c2", "countmix-chunks", "countmix-long-t", "countmix-h-large",
                  "prior-countmix-named", "prior-countmix-embedded", "prior-countmix-h-hashed"]


@pytest.mark.parametrize("name", COUNTMIX_CODED)
def test_countmix_vectors_code_their_chunks(name):
    """FORMAT.md 9.4.13: each of these holds coded payloads only (not the packed elements)."""
    sizes, packed = _payload_sizes(name)
    assert json.loads((SPEC / MANIFEST["valid"][name]["params"]).read_text())["encode"]["codec"] == "countmix"
    assert all(size < b for (size, _), b in zip(sizes, packed))


def test_countmix_packed_holds_packed_payloads():
    sizes, packed = _payload_sizes("countmix-packed")
    assert all(size == b for (size, _), b in zip(sizes, packed))


def test_countmix_bits1_payload_is_winmix():
    """9.4.13: with bits = 1 there are no level or escape decisions, and a countmix payload is the
    winmix payload of the same chunk, byte for byte."""
    def payloads(name):
        data = (SPEC / MANIFEST["valid"][name]["spk"]).read_bytes()
        with spikecodec.open(data) as r:
            head = 16 + 16 * r.header.chunk_rank
            return [data[e.offset + head : e.offset + e.size - 4] for e in r.entries]

    for name in ("countmix-spikes", "winmix-spikes"):
        assert json.loads((SPEC / MANIFEST["valid"][name]["params"]).read_text())["array"]["bits"] == 1
    np.testing.assert_array_equal(np.load(SPEC / MANIFEST["valid"]["countmix-spikes"]["npy"]),
                                  np.load(SPEC / MANIFEST["valid"]["winmix-spikes"]["npy"]))
    assert payloads("countmix-spikes") == payloads("winmix-spikes")


def _count_neighbours(x):
    """u1, u2, ul, uu of 9.4.13 (uncapped) at every element of the canonical array x."""
    pad = np.zeros_like(x)
    u1, u2, ul, uu = pad.copy(), pad.copy(), pad.copy(), pad.copy()
    u1[:, :, 1:], u2[:, :, 2:] = x[:, :, :-1], x[:, :, :-2]
    ul[..., 1:], uu[..., 1:, :] = x[..., :-1], x[..., :-1, :]
    return u1, u2, ul, uu


def test_countmix_vectors_reach_their_rules():
    """Every count neighbour above U's cap of 7, at significant elements; C = 1 and C = 2; hashed
    F; H of more than 2^22 keys, hashed, from fresh tables and from a prior whose hashed H slots
    matter; several chunks; T > 4; 4-bit priors."""
    from spikecodec.codecs.kernels import countmix

    for name, bits in (("countmix-counts2", 2), ("countmix-counts4", 4), ("countmix-counts8", 8), ("countmix-above7", 4)):
        assert _mix_geometry(name)[4] == bits
    x = np.load(SPEC / MANIFEST["valid"]["countmix-above7"]["npy"])
    for u in _count_neighbours(x):
        assert ((u > 7) & (x > 0)).sum() > 20  # each neighbour above the cap at many level decisions
    for name, channels in (("countmix-c1", 1), ("countmix-c2", 2)):
        T, C, H, W, bits = _mix_geometry(name)
        assert C == channels and bits > 2
        x = np.load(SPEC / MANIFEST["valid"][name]["npy"])
        assert (x[:, :, 0] > 7).any()  # level decisions at channel 0 (u1 = u2 = 0); for C = 2, u1 > 7 at channel 1
        assert channels == 1 or ((x[:, :, 1] > 0) & (x[:, :, 0] > 7)).any()
    T, C, H, W, bits = _mix_geometry("countmix-counts8")
    counts, sizes = countmix.context_counts(T, C, H, W, bits), countmix.table_sizes(T, C, H, W, bits)
    assert bits == 8 and counts[4] > sizes[4] == 1 << 22  # G TP NN 256 > 2^22: F hashed
    for name in ("countmix-h-large", "prior-countmix-h-hashed"):
        T, C, H, W, bits = _mix_geometry(name)
        nn, gtp = (1 << bits) + 1, min(C, 256) * min(T, 4)
        counts, sizes = countmix.context_counts(T, C, H, W, bits), countmix.table_sizes(T, C, H, W, bits)
        assert len(sizes) == 11 and counts[9] == gtp * nn * 64 > sizes[9] == 1 << 22 and sizes[10] == nn * 512  # H hashed, I direct
        x = np.load(SPEC / MANIFEST["valid"][name]["npy"])
        assert (x[3:, :, 64] > 0).any()  # level decisions at ct = 64 TP + 3: keys of H past 2^22
    prior = _prior_of("prior-countmix-h-hashed")
    h0 = int(sum(sizes[:9]))
    seeded = prior.tables["states"][h0 : h0 + int(sizes[9])]
    assert seeded.any() and not np.delete(prior.tables["states"], np.arange(h0, h0 + int(sizes[9]))).any()
    x = np.load(SPEC / MANIFEST["valid"]["prior-countmix-h-hashed"]["npy"])
    fresh = spikecodec.encode(x, codec="countmix", chunk=(4,), axes="TNCHW")
    assert _payload_sizes("prior-countmix-h-hashed")[0][0][0] < len(fresh) - 100  # the seeded H slots are what codes it
    assert len(_payload_sizes("countmix-chunks")[0]) >= 3
    assert _mix_geometry("countmix-long-t")[0] > 4
    assert [size for size, _ in _payload_sizes("countmix-zeros")[0]] == [1]
    for name in ("prior-countmix-named", "prior-countmix-embedded"):
        prior = _prior_of(name) if "priors" in MANIFEST["valid"][name] else None
        assert prior is None or (prior.codec == "countmix" and prior.geometry["bits"] == 4)
    prior = spikecodec.load_prior(SPEC / "vectors/priors/countmix.prior")
    assert prior.codec == "countmix" and prior.geometry["bits"] == 4 and prior.tables["states"].any()


# -- the version-1.11 (chanmix) vectors hold what they are named for --------------------------------

CHANMIX_CODED = ["chanmix-spikes", "chanmix-counts2", "chanmix-counts4", "chanmix-counts8", "chanmix-c1", "chanmix-c2",
                 "chanmix-c300", "chanmix-chunks", "chanmix-long-t", "prior-chanmix-named", "prior-chanmix-embedded"]


def _coded_unlike(name, codec, other):
    """Vector ``name`` of ``codec`` holds coded payloads only (not the packed elements) and, unless
    coded from a prior, each differs from codec ``other``'s payload of the same chunk."""
    sizes, packed = _payload_sizes(name)
    params = json.loads((SPEC / MANIFEST["valid"][name]["params"]).read_text())
    assert params["encode"]["codec"] == codec
    assert all(size < b for (size, _), b in zip(sizes, packed))
    if "prior" not in params["encode"]:
        def payloads(data):
            with spikecodec.open(data) as r:
                head = 16 + 16 * r.header.chunk_rank
                return [data[e.offset + head : e.offset + e.size - 4] for e in r.entries]

        x = np.load(SPEC / MANIFEST["valid"][name]["npy"])
        options = {k: v for k, v in params["encode"].items() if k != "codec"}
        theirs = payloads(spikecodec.encode(x, bits=params["array"]["bits"], codec=other, **options))
        ours = payloads((SPEC / MANIFEST["valid"][name]["spk"]).read_bytes())
        assert len(ours) == len(theirs) and all(a != b for a, b in zip(ours, theirs))


@pytest.mark.parametrize("name", CHANMIX_CODED)
def test_chanmix_vectors_code_their_chunks(name):
    """FORMAT.md 9.4.14: each of these holds coded payloads only, unlike countmix's of the same
    array (E's window and the channel sets act)."""
    _coded_unlike(name, "chanmix", "countmix")


def test_chanmix_vectors_reach_their_rules():
    """Channel sets that wrap at 256 (C = 300); c1 and c2 below channel 0 (C = 1, 2); 2-, 4- and
    8-bit counts, F hashed at 8 bits; several chunks; T > 4; the packed fallback; all-zero chunks;
    a 4-bit prior whose weights hold the channel sets."""
    from spikecodec.codecs.kernels import chanmix

    for name, bits in (("chanmix-counts2", 2), ("chanmix-counts4", 4), ("chanmix-counts8", 8)):
        assert _mix_geometry(name)[4] == bits
    T, C, H, W, bits = _mix_geometry("chanmix-counts8")
    assert chanmix.context_counts(T, C, H, W, bits)[4] > chanmix.table_sizes(T, C, H, W, bits)[4]  # F hashed
    assert _mix_geometry("chanmix-c300")[1] == 300 and (np.load(SPEC / MANIFEST["valid"]["chanmix-c300"]["npy"])[:, :, 256:] > 0).any()
    for name, channels in (("chanmix-c1", 1), ("chanmix-c2", 2)):
        assert _mix_geometry(name)[1] == channels
    assert len(_payload_sizes("chanmix-chunks")[0]) >= 3
    assert _mix_geometry("chanmix-long-t")[0] > 4
    sizes, packed = _payload_sizes("chanmix-packed")
    assert all(size == b for (size, _), b in zip(sizes, packed))
    assert [size for size, _ in _payload_sizes("chanmix-zeros")[0]] == [1]
    prior = spikecodec.load_prior(SPEC / "vectors/priors/chanmix.prior")
    g = prior.geometry
    assert prior.codec == "chanmix" and g["bits"] == 4 and prior.tables["states"].any()
    assert prior.tables["weights"].size == chanmix.weight_count(g["T"], g["C"], g["H"], g["W"], g["bits"]) == 512 * g["T"] + 20 * 17 + 32 * g["C"]



# -- the version-1.12 (framemix) vectors hold what they are named for -------------------------------

FRAMEMIX_CODED = ["framemix-spikes", "framemix-counts2", "framemix-counts4", "framemix-counts8", "framemix-c1",
                  "framemix-c300", "framemix-hw1", "framemix-chunks", "framemix-long-t", "framemix-repeated",
                  "framemix-frames", "prior-framemix-named", "prior-framemix-embedded"]


@pytest.mark.parametrize("name", FRAMEMIX_CODED)
def test_framemix_vectors_code_their_chunks(name):
    """FORMAT.md 9.4.15: each of these holds coded payloads only, unlike chanmix's of the same
    array (P, L and the wider sets act)."""
    _coded_unlike(name, "framemix", "chanmix")


def test_framemix_vectors_reach_their_rules():
    """Samples that repeat and samples that change a little within a chunk (P's key reads the
    sample before); T > 15 (long keeps 15 steps); H = W = 1; several chunks of several samples;
    channel sets that wrap at 256; counts of 2, 4, 8 bits; the packed fallback; all-zero chunks;
    a 4-bit prior whose P and L tables and weights are trained."""
    from spikecodec.codecs.kernels import framemix

    def array(name):
        return np.load(SPEC / MANIFEST["valid"][name]["npy"])

    rep = array("framemix-repeated")
    assert rep.any() and (rep[:, 1::2] == rep[:, 0::2]).all() and _payload_sizes("framemix-repeated")[0][0][0] > 0
    frames = array("framemix-frames")
    same = (frames[:, 1:] == frames[:, :-1]).mean()
    assert 0.5 < same < 1 and _mix_geometry("framemix-frames")[4] == 4
    assert _mix_geometry("framemix-long-t")[0] > 15
    assert _mix_geometry("framemix-hw1")[2:4] == (1, 1)
    chunked = array("framemix-chunks")
    assert len(_payload_sizes("framemix-chunks")[0]) >= 3 and (chunked[:, 1] == chunked[:, 0]).mean() > 0.5
    assert _mix_geometry("framemix-c300")[1] == 300 and (array("framemix-c300")[:, :, 256:] > 0).any()
    for name, bits in (("framemix-counts2", 2), ("framemix-counts4", 4), ("framemix-counts8", 8)):
        assert _mix_geometry(name)[4] == bits
    sizes, packed = _payload_sizes("framemix-packed")
    assert all(size == b for (size, _), b in zip(sizes, packed))
    assert len(_payload_sizes("framemix-zeros")[0]) == 1
    prior = spikecodec.load_prior(SPEC / "vectors/priors/framemix.prior")
    g = prior.geometry
    assert prior.codec == "framemix" and g["bits"] == 4
    tables = framemix.table_sizes(g["T"], g["C"], g["H"], g["W"], g["bits"])
    p_at = int(tables[:11].sum())
    states = prior.tables["states"]
    assert states[p_at : p_at + tables[11]].any() and states[p_at + tables[11] :].any()
    assert prior.tables["weights"].size == framemix.weight_count(g["T"], g["C"], g["H"], g["W"], g["bits"]) == 640 * g["T"] + 20 * 17 + 40 * g["C"]

# -- the version-1.13 (neuronmix) vectors hold what they are named for ------------------------------

NEURONMIX_CODED = ["neuronmix-spikes", "neuronmix-counts2", "neuronmix-counts4", "neuronmix-counts8", "neuronmix-t1",
                   "neuronmix-long-t", "neuronmix-c1", "neuronmix-c70", "neuronmix-c300", "neuronmix-hw1", "neuronmix-chunks",
                   "neuronmix-repeated", "neuronmix-hashed", "neuronmix-weight-clamp", "neuronmix-value-p-floor",
                   "neuronmix-k-at-cap", "neuronmix-hashed-c2"]


@pytest.mark.parametrize("name", NEURONMIX_CODED)
def test_neuronmix_vectors_code_their_chunks(name):
    """FORMAT.md 9.4.17: each of these holds coded payloads only, unlike framemix's of the same array."""
    _coded_unlike(name, "neuronmix", "framemix")


def test_neuronmix_vectors_reach_their_rules():
    """T = 1 (forced steps only) and T > 16 (tq stops at 15); C = 70 (g wraps at 64, the value
    model's groups at 16, 12 channels of recf and recs); C = 300 (gf wraps at 256); H = W = 1; several chunks of several
    samples; samples that repeat; counts of 2, 4 and 8 bits; tables F2 and B2 hashed; the packed
    fallback; all zeros."""
    from spikecodec.codecs.kernels import neuronmix

    def array(name):
        return np.load(SPEC / MANIFEST["valid"][name]["npy"])

    t1 = array("neuronmix-t1")
    assert t1.shape[0] == 1 and (t1 > 1).any()
    assert _mix_geometry("neuronmix-long-t")[0] > 16
    assert _mix_geometry("neuronmix-c70")[1] == 70 and (array("neuronmix-c70")[:, :, 64:] > 0).any()
    assert _mix_geometry("neuronmix-c300")[1] == 300 and (array("neuronmix-c300")[:, :, 256:] > 0).any()
    assert _mix_geometry("neuronmix-hw1")[2:4] == (1, 1) and _mix_geometry("neuronmix-c1")[1] == 1
    chunked = array("neuronmix-chunks")
    assert len(_payload_sizes("neuronmix-chunks")[0]) >= 3 and (chunked[:, 1] == chunked[:, 0]).mean() > 0.5
    rep = array("neuronmix-repeated")
    assert rep.any() and (rep[:, 1::2] == rep[:, 0::2]).all()
    for name, bits in (("neuronmix-counts2", 2), ("neuronmix-counts4", 4), ("neuronmix-counts8", 8)):
        assert _mix_geometry(name)[4] == bits and (array(name) > 1).any()
    T, C, H, W, bits = _mix_geometry("neuronmix-hashed")
    counts = neuronmix.context_counts(T, C, H, W, bits)
    assert counts[1] > 1 << 22 and counts[6] > 1 << 22 and (counts[[0, 2, 3, 4, 5, 7, 8, 9]] <= 1 << 22).all()
    assert len(_payload_sizes("neuronmix-hashed")[0]) == 1
    sizes, packed = _payload_sizes("neuronmix-packed")
    assert all(size == b for (size, _), b in zip(sizes, packed))
    assert len(_payload_sizes("neuronmix-zeros")[0]) == 1 and not array("neuronmix-zeros").any()
    # Found by an outside implementer's misreadings that passed every earlier vector:
    # a table of exactly 2**22 states is direct (B2 here), one of more is hashed with C > 1 (pos's
    # layout then matters), a weight reaches the clamp, a value state's p >> 10 reaches 0.
    T, C, H, W, bits = _mix_geometry("neuronmix-k-at-cap")
    assert neuronmix.context_counts(T, C, H, W, bits)[6] == 1 << 22
    T, C, H, W, bits = _mix_geometry("neuronmix-hashed-c2")
    assert C > 1 and T > 1 and neuronmix.context_counts(T, C, H, W, bits)[6] > 1 << 22
    clamp = array("neuronmix-weight-clamp")
    assert clamp.size > 1 << 20 and clamp.reshape(-1)[:1 << 20].sum() == 0 and clamp.any()
    floor = array("neuronmix-value-p-floor")
    assert _mix_geometry("neuronmix-value-p-floor")[4] == 2 and floor.size > 1024 and (floor == 1).all()


@pytest.mark.parametrize("name", sorted(MANIFEST["messages"]))
def test_message_vector_is_received_as_the_manifest_says(name):
    """FORMAT.md 11: LinkDecoder, given the messages in the order delivered (and each one's record
    number, when the manifest gives them), decodes the rows the manifest's array holds and refuses
    the first bad message with the manifest's code, at its offset in the concatenated stream; a
    refused message decodes nothing."""
    import sys

    sys.path.insert(0, str(SPEC))
    from refreader.vectors import split_messages  # the .msgs layout, read as the spec's reader reads it

    entry = MANIFEST["messages"][name]
    messages = split_messages((SPEC / entry["msgs"]).read_bytes())
    chunk_messages = messages[1 : len(messages) - 1 if entry["end"] else len(messages)]
    numbers = entry.get("records")  # numbered messages: decoded at their numbers, rows in record order
    taken, problem = {}, None
    try:
        dec = spikecodec.LinkDecoder(messages[0])
        for i, m in enumerate(chunk_messages):
            if numbers is None:
                taken[i] = dec.decode(m)
                continue
            try:
                taken[numbers[i]] = dec.decode(m, record=numbers[i])
            except spikecodec.FormatError:
                raise
            except ValueError:  # a message the receiver does not take (a repeat): its state, no problem
                continue
        if entry["end"]:
            dec.end(messages[-1])
    except spikecodec.FormatError as exc:
        problem = exc
    rows = [taken[k] for k in sorted(taken)]
    if entry["code"] is None:
        assert problem is None
    else:
        assert problem is not None and (problem.code, problem.offset) == (entry["code"], entry["offset"]), problem
        assert entry["problem"] in problem.message
    if "npy" in entry:
        expected = np.load(SPEC / entry["npy"])
        got = np.concatenate(rows) if rows else np.zeros((0, *dec.frame_shape), np.uint8)
        np.testing.assert_array_equal(got, expected)

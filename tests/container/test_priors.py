"""Priors (FORMAT.md 14): the file, its digest, training, and files that name or embed one."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zstandard

import spikecodec
from spikecodec import FormatError, Prior, load_prior
from spikecodec.codecs import get_codec
from spikecodec.layout import crc32
from spikecodec.prior import PRIOR_PATH_ENV, parse_prior


def samples(n: int, seed: int = 0, shape=(2, 4, 5, 5)) -> np.ndarray:
    """n samples (N first) sharing one spatial pattern, as one network's spikes do."""
    base = np.random.default_rng(99).random(shape[1:]) < 0.3
    rng = np.random.default_rng(seed)
    return (base[None, None] ^ (rng.random((n, *shape)) < 0.12)).astype(np.uint8)


@pytest.fixture(scope="module")
def prior() -> Prior:
    return spikecodec.train_prior(samples(200), "ctxmix", axes="NTCHW", chunk=1, info={"model": "toy"})


def test_file_round_trip_and_digest(prior: Prior, tmp_path: Path):
    assert prior.codec == "ctxmix" and prior.geometry == {"bits": 1, "T": 2, "C": 4, "H": 5, "W": 5}
    assert prior.info["model"] == "toy" and prior.info["chunks"] == 200 and prior.info["held_out"] == 20
    path = tmp_path / "toy.prior"
    prior.save(path)
    again = load_prior(path)
    assert again.digest == prior.digest == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    for name in prior.tables:
        np.testing.assert_array_equal(again.tables[name], prior.tables[name])
    assert not again.tables["states"].flags.writeable


def _rebuilt(prior: Prior, description=None, frame=None) -> bytes:
    """A prior file with its description or table frame replaced, CRC made right again."""
    data = prior.data
    j = struct.unpack_from("<I", data, 12)[0]
    desc = data[16 : 16 + j] if description is None else description
    z = struct.unpack_from("<Q", data, 16 + j)[0]
    body = data[24 + j : 24 + j + z] if frame is None else frame
    head = data[:12] + struct.pack("<I", len(desc)) + desc + struct.pack("<Q", len(body)) + body
    return head + struct.pack("<I", crc32(head))


def _frame_of(prior: Prior) -> bytes:
    data = prior.data
    j = struct.unpack_from("<I", data, 12)[0]
    return data[24 + j : 24 + j + struct.unpack_from("<Q", data, 16 + j)[0]]


def test_malformed_files_are_refused_with_a_reason(prior: Prior):
    data = prior.data
    desc = json.loads(data[16 : 16 + struct.unpack_from("<I", data, 12)[0]])
    cases = [
        (b"", "too short"),
        (b"\x89PNG" + data[4:], "bad signature"),
        (data[:8] + b"\x02" + data[9:], "major version"),
        (data[:-1] + bytes([data[-1] ^ 1]), "CRC mismatch"),
        (data[:-10], "CRC mismatch"),
        (_rebuilt(prior, b"[1]"), "exactly the keys"),
        (_rebuilt(prior, b'{"codec": "x", "geometry": {}, "tables": [], "info": {}}'), "non-empty list"),
        (_rebuilt(prior, json.dumps({**desc, "tables": [{"name": "states", "type": "f64", "count": 1}]}).encode()), "bad table entry"),
        (_rebuilt(prior, json.dumps({**desc, "tables": [{"name": "s", "type": "u32", "count": 1 << 40}]}).encode()), "exceed"),
        (_rebuilt(prior, b'{"codec": "x", "codec": "y", "geometry": {}, "tables": [], "info": {}}'), "a key appears twice"),
        (_rebuilt(prior, json.dumps({**desc, "info": {"rate": 1.0}}).encode().replace(b"1.0", b"1e999")), "too large for a double"),
        (_rebuilt(prior, b"\xef\xbb\xbf" + json.dumps(desc).encode()), "byte-order mark"),
        (_rebuilt(prior, frame=b"nope"), "not a zstd frame"),
        (_rebuilt(prior, frame=_frame_of(prior) + b"\0"), "does not decompress"),
        (_rebuilt(prior, frame=zstandard.ZstdCompressor().compress(b"\0" * 8)), "the tables need"),
        (_rebuilt(prior, frame=zstandard.ZstdCompressor(write_content_size=False).compress(b"\0" * 8)), "the tables need"),
    ]
    for bad, phrase in cases:
        with pytest.raises(FormatError, match=phrase):
            parse_prior(bad)


def test_binding_checks_codec_layout_and_values(prior: Prior):
    with pytest.raises(ValueError, match="cannot serve codec"):
        get_codec("context").with_prior(prior)
    short = Prior("ctxmix", prior.geometry, {"states": prior.tables["states"][:-1], "weights": prior.tables["weights"]})
    with pytest.raises(ValueError, match="do not fit geometry"):
        get_codec("ctxmix").with_prior(short)
    wild = Prior("ctxmix", {**prior.geometry, "C": 1 << 40}, prior.tables)
    with pytest.raises(ValueError, match="out of range"):
        get_codec("ctxmix").with_prior(wild)
    counts = spikecodec.train_prior(samples(30), "context", axes="NTCHW", chunk=1)
    bad = dict(counts.tables)
    bad["sig_shared"] = bad["sig_shared"].copy()
    bad["sig_shared"][0] = (5 << 16) | 6  # six ones out of five
    with pytest.raises(ValueError, match="outside the model's range"):
        get_codec("context").with_prior(Prior("context", counts.geometry, bad))


@pytest.mark.parametrize("codec", ["order0", "context", "countctx", "ctxlanes", "ctxmix", "mix", "winmix"])
def test_every_trainable_codec_codes_from_a_prior(codec, tmp_path: Path):
    train, test = samples(120, 1), samples(30, 2)
    p = spikecodec.train_prior(train, codec, axes="NTCHW", chunk=1)
    named = spikecodec.encode(test, codec=codec, axes="NTCHW", chunk=1, prior=p, records="compact")
    np.testing.assert_array_equal(spikecodec.decode(named, priors=p), test)
    with pytest.raises(FormatError, match=f"coded with prior {p.digest}, which was not given"):
        spikecodec.decode(named)
    embedded = spikecodec.encode(test, codec=codec, axes="NTCHW", chunk=1, prior=p, embed_prior=True, records="compact")
    np.testing.assert_array_equal(spikecodec.decode(embedded), test)
    assert len(embedded) > len(named) + len(p.data) - 10
    with spikecodec.open(embedded) as r:
        assert r.prior.digest == p.digest and r.embeds_prior and r.version == (1, 7)  # compact records' keyed checks
        assert r.codec == [{"id": codec, "prior": p.digest}]


def test_prior_found_on_the_search_path(prior: Prior, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = spikecodec.encode(samples(3, 5), codec="ctxmix", axes="NTCHW", chunk=1, prior=prior)
    prior.save(tmp_path / "some-name.prior")
    (tmp_path / "broken.prior").write_bytes(b"not a prior")  # skipped, not fatal
    monkeypatch.setenv(PRIOR_PATH_ENV, str(tmp_path))
    np.testing.assert_array_equal(spikecodec.decode(data), samples(3, 5))


def test_embedded_priors_met_are_kept_within_a_budget(prior: Prior, monkeypatch: pytest.MonkeyPatch):
    # Every embedded prior a process decoded used to stay parsed for its lifetime: a reader of
    # files that each embed another prior grew without bound (found by scripts/fuzz.py prior).
    monkeypatch.setattr(spikecodec.prior, "_embedded", spikecodec.prior.OrderedDict())
    monkeypatch.setattr(spikecodec.prior, "EMBEDDED_KEPT_BYTES", 2 * prior.nbytes + prior.nbytes // 2)
    x = samples(2, 7)
    digests = []
    for i in range(5):  # five priors alike but for one weight: five digests
        tables = {k: v.copy() for k, v in prior.tables.items()}
        tables["weights"][0] += i + 1
        other = Prior(prior.codec, prior.geometry, tables, prior.info)
        data = spikecodec.encode(x, codec="ctxmix", axes="NTCHW", chunk=1, prior=other, embed_prior=True)
        np.testing.assert_array_equal(spikecodec.decode(data), x)
        digests.append(other.digest)
    kept = spikecodec.prior._embedded
    assert list(kept) == digests[-2:]  # the two most recent, within the budget
    assert sum(p.nbytes for p in kept.values()) <= spikecodec.prior.EMBEDDED_KEPT_BYTES


def test_a_file_naming_its_prior_does_not_read_by_one_met_embedded_before(prior: Prior, monkeypatch: pytest.MonkeyPatch):
    # FORMAT.md 14: a named prior is given to the reader. Whether a file reads must not depend on
    # what the process read before: an embedded prior once met used to serve later files naming it.
    monkeypatch.setattr(spikecodec.prior, "_found", {})
    monkeypatch.setattr(spikecodec.prior, "_embedded", spikecodec.prior.OrderedDict())
    monkeypatch.setattr(spikecodec.prior, "search_dirs", lambda: [])
    x = samples(3, 5)
    embedding = spikecodec.encode(x, codec="ctxmix", axes="NTCHW", chunk=1, prior=prior, embed_prior=True)
    naming = spikecodec.encode(x, codec="ctxmix", axes="NTCHW", chunk=1, prior=prior)
    np.testing.assert_array_equal(spikecodec.decode(embedding), x)
    assert prior.digest in spikecodec.prior._embedded  # kept: the embedding file reads again without parsing
    with pytest.raises(FormatError, match=f"coded with prior {prior.digest}, which was not given") as info:
        spikecodec.decode(naming)
    assert info.value.code == "prior-missing"
    assert spikecodec.validate(naming).problems[0].code == "prior-missing"
    np.testing.assert_array_equal(spikecodec.decode(naming, priors=prior), x)


def test_a_prior_that_has_coded_and_its_readers_pickle(prior: Prior):
    # Its threads' scratch copies (a threading.local) went into the pickle: after one chunk a
    # prior, and a reader given it, could not go to a process pool or a spawned DataLoader.
    import copy
    import pickle

    x = samples(3, 5)
    data = spikecodec.encode(x, codec="ctxmix", axes="NTCHW", chunk=1, prior=prior)
    with spikecodec.open(data, priors=prior) as r:
        np.testing.assert_array_equal(r[:], x)
        again = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(again[:], x)
    twin = pickle.loads(pickle.dumps(prior))
    assert twin.digest == prior.digest and copy.deepcopy(prior).digest == prior.digest
    assert not any(t.flags.writeable for t in twin.tables.values())
    assert spikecodec.encode(x, codec="ctxmix", axes="NTCHW", chunk=1, prior=twin) == data


def test_a_prior_for_other_chunks_is_refused_before_writing(prior: Prior):
    with pytest.raises(ValueError, match="trained for chunks with"):
        spikecodec.encode(samples(3, shape=(2, 4, 5, 6)), codec="ctxmix", axes="NTCHW", chunk=1, prior=prior)
    with pytest.raises(ValueError, match="no model state for a prior"):
        spikecodec.encode(samples(3), codec="zstd", prior=prior)


def test_training_refuses_mixed_geometry_and_untrainable_codecs():
    with pytest.raises(ValueError, match="one geometry"):
        spikecodec.train_prior([samples(3), samples(3, shape=(2, 3, 5, 5))], "context", axes="NTCHW", chunk=1)
    with pytest.raises(ValueError, match="no model state to train"):
        spikecodec.train_prior(samples(3), "auto")
    with pytest.raises(ValueError, match="no sample chunks"):
        spikecodec.train_prior([], "context")


def test_training_on_a_spike_file_uses_its_chunks(tmp_path: Path):
    path = tmp_path / "train.spk"
    spikecodec.save(path, samples(50, 3), axes="NTCHW", chunk=1, codec="ctxmix")
    from_file = spikecodec.train_prior(str(path), "ctxmix")
    from_bytes = spikecodec.train_prior(path.read_bytes(), "ctxmix")  # a file's bytes, as decode takes them
    from_array = spikecodec.train_prior(samples(50, 3), "ctxmix", axes="NTCHW", chunk=1)
    assert from_file.digest == from_array.digest == from_bytes.digest


@pytest.mark.parametrize("samples_given", [5, {"a": np.ones((3, 4))}, None])
def test_training_refuses_what_is_no_sample_by_saying_what_samples_are(samples_given):
    with pytest.raises(TypeError, match="samples are spike arrays, spike files"):
        spikecodec.train_prior(samples_given, "ctxmix")


def test_a_prior_that_could_not_be_saved_is_refused_when_made(prior: Prior):
    g, t = prior.geometry, prior.tables
    with pytest.raises(TypeError, match="prior table 'a' must be a 1-D uint32 or int32 numpy array, got list"):
        Prior("ctxmix", g, {"a": [1, 2]})
    with pytest.raises(TypeError, match="must be a 1-D uint32 or int32 numpy array, got float64"):
        Prior("ctxmix", g, {"a": np.zeros(3)})
    with pytest.raises(TypeError, match="info is a dict"):
        Prior("ctxmix", g, t, [1])
    with pytest.raises(ValueError, match="must be JSON"):
        Prior("ctxmix", g, t, {"x": float("nan")})
    with pytest.raises(ValueError, match="must be JSON"):
        spikecodec.train_prior(samples(3), "ctxmix", axes="NTCHW", chunk=1, info={"x": {1, 2}})
    deep: list = []
    for _ in range(600):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than 512 deep"):
        Prior("ctxmix", g, t, {"x": deep})


def test_held_out_samples_choose_how_hard_the_prior_is():
    """Samples that teach nothing (each chunk unlike the others) get a soft or empty prior that
    codes no worse than none; samples that share a pattern keep a hard one."""
    rng = np.random.default_rng(4)
    noise = [(rng.random((2, 1, 4, 5, 5)) < rng.uniform(0.02, 0.9)).astype(np.uint8) for _ in range(100)]
    p = spikecodec.train_prior(noise, "order0")
    assert p.info["soften"] > 0 and len(p.info["held_out_bytes"]) == get_codec("order0").SOFTEN_LEVELS + 2
    shared = spikecodec.train_prior(samples(100), "ctxmix", axes="NTCHW", chunk=1)
    assert shared.info["soften"] <= 2


def _header_embedding_a_prior_of(table_bytes: int, damage: str = "") -> bytes:
    """A stream header whose embedded ctxmix prior declares one table of ``table_bytes`` zero
    bytes (which no ctxmix geometry lays out), its frame cut short with ``damage="cut"``."""
    import hashlib
    import io
    import zlib

    from spikecodec.container.header import Extension, Header, encode_header
    from spikecodec.prior import _HEAD, MAJOR_VERSION, SIGNATURE

    description = json.dumps({"codec": "ctxmix", "geometry": {"bits": 1, "T": 1, "C": 4, "H": 4, "W": 4},
                              "tables": [{"name": "states", "type": "u32", "count": table_bytes // 4}], "info": {}}).encode()
    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=1).stream_writer(out, size=table_bytes, closefd=False) as w:
        for _ in range(table_bytes >> 24):
            w.write(bytes(1 << 24))
    frame = out.getvalue()[: -2 if damage == "cut" else None]
    body = _HEAD.pack(SIGNATURE, MAJOR_VERSION, 0, 0, len(description)) + description + len(frame).to_bytes(8, "little") + frame
    prior_file = body + zlib.crc32(body).to_bytes(4, "little")
    return encode_header(Header(shape=(None, 1, 4, 4, 4), axes=tuple("NTCHW"), bits=1, chunk_shape=(1,),
                                codecs=({"id": "ctxmix", "prior": hashlib.sha256(prior_file).hexdigest()},), metadata={},
                                extensions=(Extension("prior", prior_file, True),), minor=5))


def test_an_embedded_prior_that_cannot_serve_its_codec_is_refused_without_holding_its_tables(tmp_path):
    # A 33 KB file whose embedded prior declared 1 GiB of tables took 2 GiB and 10 s to open: the
    # tables were decompressed (and copied) before their layout was compared with the codec's. The
    # file's own rules still come first (FORMAT.md 10 step 3.6): its frame is checked, counted, dropped.
    import subprocess
    import sys

    (tmp_path / "h.bin").write_bytes(_header_embedding_a_prior_of(512 << 20))
    probe = ("import resource, sys, spikecodec\n"
             "data = open(sys.argv[1], 'rb').read()\n"
             "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
             "try:\n    spikecodec.LinkDecoder(data)\nexcept spikecodec.FormatError as exc:\n    print(exc.code)\n"
             "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) >> 10)\n")
    said = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "h.bin")], capture_output=True, text=True, check=True).stdout.split()
    assert said[0] == "prior-mismatch" and int(said[1]) < 128, said  # MB more at its peak: 1 GiB before
    with pytest.raises(FormatError) as caught:
        spikecodec.LinkDecoder(_header_embedding_a_prior_of(16 << 20, damage="cut"))
    assert caught.value.code == "prior-file-table-data", caught.value


def test_a_mixing_prior_of_more_steps_than_its_tables_hold_is_refused_at_a_record_not_the_header():
    # FORMAT.md 14: a ctxmix/mix/winmix prior's T above 4 passes the header's checks and matches no
    # chunk; the library refused it at the header (offset 16), so a file in which no chunk starts
    # a model - which conforms - was refused. Found by differential testing against spec/refreader.
    from spikecodec.container.header import Extension, Header, encode_header
    from spikecodec.container.records import encode_index, encode_trailer

    trained = spikecodec.train_prior(samples(20, shape=(4, 3, 4, 4)), "mix", axes="NTCHW", chunk=1)
    five = Prior("mix", {**trained.geometry, "T": 5}, dict(trained.tables))
    header = encode_header(Header(shape=(8, 0), axes=("T", "N"), bits=1, chunk_shape=(4, 1),
                                  codecs=({"id": "mix", "prior": five.digest},), metadata={},
                                  extensions=(Extension("prior", five.data, True),), minor=5))
    index = encode_index([])
    empty = header + index + encode_trailer(len(header), len(index))  # G = 0: no record, no model started
    assert spikecodec.validate(empty).ok
    assert spikecodec.decode(empty).shape == (8, 0)


def test_an_embedded_prior_counts_against_the_readers_max_bytes(prior: Prior, monkeypatch: pytest.MonkeyPatch):
    # A legal prior of large tables (up to ~350 MB for ctxlanes) embedded in a header of a few KB
    # was decompressed whatever max_bytes said: a LinkDecoder(max_bytes=1000) of a hostile
    # client's header took 358 MB. (Priors found in the search folders, or given as objects, are not counted; files and bytes given are.)
    monkeypatch.setattr(spikecodec.prior, "_found", {})
    monkeypatch.setattr(spikecodec.prior, "_embedded", spikecodec.prior.OrderedDict())
    x = samples(2, 7)
    data = spikecodec.encode(x, codec="ctxmix", axes="NTCHW", chunk=1, prior=prior, embed_prior=True)
    header = spikecodec.LinkEncoder(x.shape[1:], prior=prior, embed_prior=True).header
    small = prior.nbytes - 1
    for _ in range(2):  # the second time the prior is one this process parsed already: refused alike
        for read in (lambda: spikecodec.open(data, max_bytes=small), lambda: spikecodec.decode(data, max_bytes=small),
                     lambda: spikecodec.SpikeStream(data, max_bytes=small), lambda: spikecodec.LinkDecoder(header, max_bytes=small)):
            with pytest.raises(spikecodec.LimitError, match=f"the embedded prior: its tables take {prior.nbytes} bytes, over max_bytes={small}"):
                read()
        assert spikecodec.validate(data, max_bytes=small).problems[0].code == "limit-bytes"
        np.testing.assert_array_equal(spikecodec.decode(data, max_bytes=prior.nbytes + x.nbytes), x)


@pytest.mark.parametrize("codec", ["ctxmix", "mix", "winmix"])
def test_a_short_row_its_prior_was_not_made_for_is_stored_packed(codec: str):
    # FORMAT.md 9.4.9 reads a payload of exactly B bytes as packed, starting no model: the writer
    # refused a short last row (T = 2 of chunks of T = 4), and a SpikeWriter given a prior could
    # not flush a partial row or close on one.
    x = (np.random.default_rng(5).random((6, 2, 3, 4, 4)) < 0.3).astype(np.uint8)
    prior = spikecodec.train_prior(x[:4], codec, chunk=[4, 1])
    data = spikecodec.encode(x, codec=codec, chunk=[4, 1], prior=prior)
    np.testing.assert_array_equal(spikecodec.decode(data, priors=prior), x)
    with spikecodec.open(data, priors=prior) as r:
        short = [r.entries[i] for i in range(len(r.entries)) if r.entries[i].row_start == 4]
        assert short and all(e.size == 16 + 16 * 2 + r.chunk_spec(len(r.entries) - 1).packed_nbytes + 4 for e in short)
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, codec=codec, chunk=(4, 1), prior=prior) as w:
        w.write_frames(x[:2])
        w.flush()
        w.write_frames(x[2:])
    assert spikecodec.validate(buf.getvalue(), priors=prior).ok
    np.testing.assert_array_equal(spikecodec.decode(buf.getvalue(), priors=prior), x)
    with pytest.raises(ValueError, match="was trained for chunks with"):  # a prior for none of the full chunks
        spikecodec.encode(x[:, :, :2], codec=codec, chunk=[4, 1], prior=prior)


def test_training_trials_code_as_the_prior_does_without_its_digest(monkeypatch: pytest.MonkeyPatch):
    # train_prior codes held-out chunks from each softening of its tables to pick one; each trial
    # computed the candidate's digest (zstd-19 of its tables: 8 of them took 7.5 of 11 s for an
    # 8-bit 16x8x8 ctxmix prior). Trials only count bytes, which the digest does not change.
    import spikecodec.prior as prior_module

    rng = np.random.default_rng(3)
    x = ((rng.random((96, 4, 6, 6)) < 0.2) * rng.integers(1, 4, (96, 4, 6, 6))).astype(np.uint8)
    encoded = []
    real_encode = prior_module._encode
    monkeypatch.setattr(prior_module, "_encode", lambda p: encoded.append(p) or real_encode(p))
    trained = spikecodec.train_prior(x, "ctxmix", axes="TCHW", chunk=4, bits=2)
    assert encoded == [] and len(trained.info["held_out_bytes"]) >= 2
    codec = get_codec("ctxmix")
    spec = spikecodec.codecs.ChunkSpec((4, 4, 6, 6), ("T", "C", "H", "W"), 2)
    chunk = np.ascontiguousarray(x[:4])
    assert codec.trial(trained).encode(chunk, spec) == codec.with_prior(trained).encode(chunk, spec)
    assert codec.trial(trained).prior_id is None and len(encoded) == 1  # with_prior named it: one digest


def test_a_writer_refused_at_its_first_frame_closes_cleanly_and_leaves_no_file(prior: Prior, tmp_path: Path):
    # Before: the header was set before the prior's check refused the frame, so close() (and the
    # with block's exit) crashed with AttributeError and left a 0-byte file.
    path = tmp_path / "new.spk"
    w = spikecodec.SpikeWriter(path, codec="ctxmix", prior=prior, chunk=1)
    with pytest.raises(ValueError, match="trained for chunks with"):
        w.append(samples(1, shape=(1, 4, 5, 5))[0])  # T = 1: the prior was made for T = 2
    with pytest.raises(ValueError, match="no frame was appended"):
        w.close()
    assert not path.exists()
    with pytest.raises(ValueError, match="trained for chunks with"):
        with spikecodec.SpikeWriter(path, codec="ctxmix", prior=prior, chunk=1) as w:
            w.append(samples(1, shape=(1, 4, 5, 5))[0])
    assert not path.exists()


def test_a_prior_file_given_counts_against_the_readers_max_bytes(prior: Prior, tmp_path: Path):
    # Before: only embedded priors were counted; a given file of a few KB declaring hundreds of MB
    # of tables (zeros compress) was decompressed whatever --max-bytes said (306 MB at 1M).
    x = samples(2, 7)
    data = spikecodec.encode(x, codec="ctxmix", axes="NTCHW", chunk=1, prior=prior)
    prior.save(tmp_path / "p.prior")
    small = prior.nbytes - 1
    for given in (tmp_path / "p.prior", prior.data):
        for read in (lambda: spikecodec.decode(data, priors=given, max_bytes=small),
                     lambda: spikecodec.open(data, priors=given, max_bytes=small),
                     lambda: spikecodec.validate(data, priors=given, max_bytes=small)):
            with pytest.raises(spikecodec.LimitError, match=f"its tables take {prior.nbytes} bytes, over max_bytes={small}"):
                read()
    np.testing.assert_array_equal(spikecodec.decode(data, priors=tmp_path / "p.prior", max_bytes=prior.nbytes + x.nbytes), x)
    assert spikecodec.load_prior(tmp_path / "p.prior").digest == prior.digest  # no limit: as before


def test_a_prior_path_that_is_no_prior_file_is_refused_from_its_first_bytes():
    # Before: up to 1 GiB + 1 MiB was read before the signature was looked at (/dev/zero: 1.09 GB).
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="bad signature") as info:
            spikecodec.load_prior("/dev/zero")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.code == "prior-file-magic" and peak < 1 << 20


def test_validate_refuses_a_bad_prior_argument_instead_of_blaming_the_file(prior: Prior):
    # Before: validate(good, priors=b"xx") reported good as not ok (prior-file-truncated at 0).
    data = spikecodec.encode(samples(2, 7), codec="ctxmix", axes="NTCHW", chunk=1, prior=prior)
    with pytest.raises(FormatError, match="^priors=: at byte 0: file is 2 bytes, too short for a prior"):
        spikecodec.validate(data, priors=b"xx")
    assert spikecodec.validate(data, priors=prior).ok


SEARCH_WITH_A_FIFO = r"""
import sys
import spikecodec
data = open(sys.argv[1], "rb").read()
print(int(spikecodec.decode(data).sum()))
"""


def test_the_prior_search_skips_what_is_no_regular_file(prior: Prior, tmp_path: Path):
    # Before: a FIFO named *.prior in $SPIKECODEC_PRIOR_PATH held every read that searched for
    # ever (opened before the right prior's file, in sorted order); a link to /dev/zero read 1 GiB.
    x = samples(3, 5)
    (tmp_path / "file.spk").write_bytes(spikecodec.encode(x, codec="ctxmix", axes="NTCHW", chunk=1, prior=prior))
    folder = tmp_path / "priors"
    folder.mkdir()
    os.mkfifo(folder / "a-fifo.prior")
    os.symlink("/dev/zero", folder / "b-zero.prior")
    prior.save(folder / "c-the-one.prior")
    run = subprocess.run([sys.executable, "-c", SEARCH_WITH_A_FIFO, str(tmp_path / "file.spk")], capture_output=True,
                         text=True, timeout=120, env={**os.environ, PRIOR_PATH_ENV: str(folder)})
    assert run.returncode == 0 and int(run.stdout) == int(x.sum()), run.stderr


def test_a_prior_info_key_that_is_no_string_is_named():
    # Before: "a prior's geometry and info must be JSON: '<' not supported between instances of 'int' and 'str'".
    with pytest.raises(TypeError, match=r"a prior's info keys must be strings \(JSON object keys\), got int 1"):
        spikecodec.train_prior(samples(4), "ctxmix", axes="NTCHW", chunk=1, info={1: 2})


def test_a_codec_naming_one_prior_and_another_given_is_refused(prior: Prior):
    # Before: prior= silently replaced the digest the codec's configuration named.
    with pytest.raises(ValueError, match=f"names prior {'a' * 12}, but prior {prior.digest[:12]} was given"):
        spikecodec.encode(samples(2), codec={"id": "ctxmix", "prior": "a" * 64}, axes="NTCHW", chunk=1, prior=prior)
    data = spikecodec.encode(samples(2), codec={"id": "ctxmix", "prior": prior.digest}, axes="NTCHW", chunk=1, prior=prior)
    np.testing.assert_array_equal(spikecodec.decode(data, priors=prior), samples(2))


def test_training_on_samples_without_elements_is_refused():
    # A prior "trained" on chunks of no element was the codec's fresh tables (2.9 MB for ctxmix),
    # returned as if the samples had taught it something.
    with pytest.raises(ValueError, match="hold no element: nothing to train on"):
        spikecodec.train_prior(np.zeros((2, 0, 4, 7, 7), bool), "ctxmix")

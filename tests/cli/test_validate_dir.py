"""``spikecodec validate`` over folders, and a validator that reports every problem it can reach
(issue 23): past a bad chunk CRC, a header CRC before the fields it covers, bytes after the
trailer as such, and a warning for a minor version lower than the file's codecs need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from cli.commands.validate import exit_status
from cli.main import main as cli
from spikecodec import layout


@pytest.fixture(scope="module")
def data() -> bytes:
    rng = np.random.default_rng(3)
    return spikecodec.encode((rng.random((6, 4, 8)) < 0.3).astype(np.uint8), chunk=1)


def _entries(data: bytes):
    with spikecodec.open(data) as r:
        return list(r.entries)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _without_index(data: bytes) -> bytes:
    """The records only: a writer that died before its index."""
    e = _entries(data)[-1]
    return data[: e.offset + e.size]


def _codes(report) -> list[tuple[int | None, str | None]]:
    return [(p.offset, p.code) for p in report.problems]


# -- every problem it can reach ---------------------------------------------------------------


def test_the_walk_goes_on_past_a_bad_chunk_crc(data):
    entries = _entries(data)
    bad = _without_index(data)
    for e in (entries[1], entries[4]):  # two damaged records, each by its last (CRC) byte
        bad = _flip(bad, e.offset + e.size - 1)
    report = spikecodec.validate(bad)
    assert _codes(report) == [(len(bad) - layout.TRAILER_SIZE, "trailer-magic"),
                              (entries[1].offset, "chunk-crc"), (entries[4].offset, "chunk-crc")]
    assert report.chunks_checked == len(entries) - 2  # the others were decoded


def test_compact_records_past_a_bad_check_and_the_index_after_them():
    x = (np.random.default_rng(4).random((6, 16)) < 0.4).astype(np.uint8)
    data = spikecodec.encode(x, chunk=1, records="compact")
    entries = _entries(data)
    bad = _flip(_flip(data, entries[1].offset + entries[1].size - 1), entries[3].offset + entries[3].size - 1)
    report = spikecodec.validate(bad)
    assert [c for _, c in _codes(report)] == ["compact-check", "compact-check"], report.problems
    assert [o for o, _ in _codes(report)] == [entries[1].offset, entries[3].offset]
    assert report.chunks_checked == len(entries) - 2
    # the index after them is checked too: here it counts one record more than the file holds
    from spikecodec.container.records import encode_compact_index

    at = entries[-1].offset + entries[-1].size
    index = encode_compact_index(len(entries) + 1, 6)
    assert len(index) == len(encode_compact_index(len(entries), 6))
    report = spikecodec.validate(bad[:at] + index + bad[at + len(index) :])
    assert _codes(report) == [(entries[1].offset, "compact-check"), (entries[3].offset, "compact-check"), (at, "index-count")]


def test_a_header_crc_is_reported_before_the_fields_it_covers(data):
    body_end = layout.PREAMBLE_SIZE + int.from_bytes(data[12:16], "little")
    crc_damaged = _flip(data, body_end)  # the stored CRC itself: the fields hold, the chunks are checked
    report = spikecodec.validate(crc_damaged)
    assert _codes(report) == [(body_end, "header-crc")]
    assert report.chunks_checked == len(_entries(data))
    rank_damaged = data[:16] + bytes([9]) + data[17:]  # rank 9, and the CRC no longer matches
    report = spikecodec.validate(rank_damaged)
    assert _codes(report) == [(body_end, "header-crc"), (16, "rank-range")]


def test_bytes_after_the_trailer_are_named_as_such(data):
    report = spikecodec.validate(data + b"\0" * 7)
    assert _codes(report) == [(len(data) + 7 - layout.TRAILER_SIZE, "trailer-magic"), (len(data), "bytes-after-trailer")]
    assert report.chunks_checked == len(_entries(data))
    report = spikecodec.validate(data[:-3])  # truncated, not followed by stray bytes
    assert "bytes-after-trailer" not in [c for _, c in _codes(report)]


def test_a_minor_version_lower_than_the_codecs_need_is_a_warning():
    x = (np.random.default_rng(5).random((4, 32)) < 0.2).astype(np.uint8)
    data = spikecodec.encode(x, codec="countctx")  # defined in version 1.1
    assert data[9] == 1 and spikecodec.validate(data).problems == []
    low = bytearray(data)
    low[9] = 0
    body_end = layout.PREAMBLE_SIZE + int.from_bytes(low[12:16], "little")
    low[body_end : body_end + 4] = layout.crc32(bytes(low[:body_end])).to_bytes(4, "little")
    report = spikecodec.validate(bytes(low))
    assert report.ok and report.conforming_so_far
    assert [(p.offset, p.code, p.section, p.severity) for p in report.problems] == [(9, "minor-too-low", "13", "warning")]
    np.testing.assert_array_equal(spikecodec.decode(bytes(low)), x)  # readers accept it


# -- folders on the command line ------------------------------------------------------------------


def _tree(tmp_path: Path, data: bytes) -> Path:
    root = tmp_path / "runs"
    (root / "b").mkdir(parents=True)
    (root / "a.spk").write_bytes(data)
    e = _entries(data)[2]
    (root / "b" / "bad.spk").write_bytes(_flip(data, e.offset + e.size - 1))
    (root / "b" / "notes.txt").write_text("not a spike file")
    (root / "c.spk").write_bytes(data)
    outside = tmp_path / "outside.spk"
    outside.write_bytes(b"not checked")
    os.symlink(outside, root / "link-out.spk")
    os.symlink(root / "a.spk", root / "link-in.spk")
    return root


def test_validate_a_folder(tmp_path, data, capsys):
    root = _tree(tmp_path, data)
    assert cli(["validate", str(root)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    e = _entries(data)[2]
    assert lines == [
        f"{root}/a.spk: OK (6 chunks, shape (6, 4, 8))",
        f"{root}/b/bad.spk: does not conform (1 problem)",
        f"{root}/b/bad.spk: at byte {e.offset}: chunk CRC mismatch",
        f"{root}/c.spk: OK (6 chunks, shape (6, 4, 8))",
        f"{root}/link-in.spk: OK (6 chunks, shape (6, 4, 8))",
        "4 files: 3 conform, 1 do not, 0 over a limit, 0 unreadable",
    ]
    assert "link-out.spk" in err and "not followed" in err

    assert cli(["validate", "--json", str(root)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(f["file"], f["ok"]) for f in report["files"]] == [
        (f"{root}/a.spk", True), (f"{root}/b/bad.spk", False), (f"{root}/c.spk", True), (f"{root}/link-in.spk", True)]
    assert [(p["code"], p["offset"], p["severity"]) for p in report["files"][1]["problems"]] == [("chunk-crc", e.offset, "error")]
    assert report["summary"] == {"files": 4, "conforming": 3, "not_conforming": 1, "over_limit": 0, "unreadable": 0}


def test_folder_exit_statuses(tmp_path, data, capsys):
    good = tmp_path / "good"
    good.mkdir()
    (good / "x.spk").write_bytes(data)
    (good / "y.spk").write_bytes(data)
    assert cli(["validate", str(good)]) == 0
    assert cli(["validate", "--max-bytes", "16", str(good)]) == 3  # only limits: conforming so far
    assert "2 files: 0 conform, 0 do not, 2 over a limit, 0 unreadable" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(["validate", str(empty)]) == 2
    assert "no .spk file" in capsys.readouterr().err
    assert cli(["validate", str(good), str(tmp_path / "missing.spk")]) == 2


def test_json_still_reports_when_the_prior_does_not_load(tmp_path, data, capsys):
    # Before: `validate --json --prior bad` printed nothing on stdout, and a script parsing the
    # report failed on empty input. Now the object says why no file was checked; exit 2 as before.
    path = tmp_path / "a.spk"
    path.write_bytes(data)
    (tmp_path / "bad.prior").write_bytes(b"junk")
    assert cli(["validate", "--json", "--prior", str(tmp_path / "bad.prior"), str(path)]) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["ok"] is False and report["files"] == [] and report["summary"]["files"] == 0
    assert "bad.prior" in report["error"] and "too short for a prior" in report["error"]
    assert err.count("\n") == 1 and "bad.prior" in err


def test_one_exit_rule():
    assert exit_status([]) == 0 and exit_status([0, 0]) == 0
    assert exit_status([0, 3]) == 3 and exit_status([3, 1, 0]) == 1 and exit_status([1, 2, 3]) == 2


def test_a_warning_keeps_exit_status_0(tmp_path, capsys):
    x = (np.random.default_rng(6).random((4, 32)) < 0.2).astype(np.uint8)
    low = bytearray(spikecodec.encode(x, codec="ctxlanes"))
    low[9] = 0
    body_end = layout.PREAMBLE_SIZE + int.from_bytes(low[12:16], "little")
    low[body_end : body_end + 4] = layout.crc32(bytes(low[:body_end])).to_bytes(4, "little")
    path = tmp_path / "low.spk"
    path.write_bytes(bytes(low))
    assert cli(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: at byte 9: warning: minor version 0 is lower than 2" in out
    assert cli(["validate", "-q", str(path)]) == 0
    assert capsys.readouterr().out == ""


# -- the integrations' errors carry codes -------------------------------------------------------------


def test_integration_errors_carry_codes():
    from spikecodec.integrations.numcodecs import SpikeCodec

    codec = SpikeCodec(framing="message")
    with pytest.raises(spikecodec.FormatError) as info:
        codec.decode(b"\x00\x01\x02")
    assert info.value.code == "integration-framing"
    message = codec.encode(np.ones((3, 5), np.uint8))
    with pytest.raises(spikecodec.FormatError) as info:
        codec.decode(message[:-1])
    assert info.value.code is not None and info.value.code in spikecodec.problem_codes.CODES


def test_a_fifo_in_a_folder_is_skipped_not_waited_on(tmp_path, data):
    # `validate FOLDER` opened a FIFO named *.spk and waited for a writer for ever.
    import subprocess
    import sys

    (tmp_path / "a.spk").write_bytes(data)
    os.mkfifo(tmp_path / "b.spk")
    proc = subprocess.run([sys.executable, "-m", "spikecodec", "validate", str(tmp_path)], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "b.spk: not a regular file" in proc.stderr.decode() and "a.spk: OK" in proc.stdout.decode()


def test_a_file_of_very_many_damaged_records_is_reported_in_bounded_memory(tmp_path):
    # Every problem was kept: a 3 MB file of a million records each failing its check held a
    # million problems (1 GB; `validate --json` printed 270 MB). The first MAX_PROBLEMS are kept.
    from spikecodec.container.validate import MAX_PROBLEMS

    x = np.zeros((MAX_PROBLEMS + 300, 8), np.uint8)
    data = spikecodec.encode(x, codec="raw", chunk=1, records="compact")
    entries = _entries(data)
    bad = bytearray(data)
    for e in entries:
        bad[e.offset + e.size - 1] ^= 1
    report = spikecodec.validate(bytes(bad))
    assert len(report.problems) == MAX_PROBLEMS and report.problems_omitted == 300
    assert {p.code for p in report.problems} == {"compact-check"} and not report.ok and not report.conforming_so_far
    assert report.to_dict()["problems_omitted"] == 300
    assert str(report).endswith(f"... and 300 more problems (the first {MAX_PROBLEMS} are listed)")
    path = tmp_path / "bad.spk"
    path.write_bytes(bytes(bad))
    run = subprocess.run([sys.executable, "-m", "spikecodec", "validate", str(path)], capture_output=True, text=True)
    assert run.returncode == 1 and run.stdout.count("\n") == MAX_PROBLEMS + 1 and "300 more problems" in run.stdout

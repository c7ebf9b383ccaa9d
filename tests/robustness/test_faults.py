"""Crash safety (writers SIGKILLed mid-stream, saves killed mid-way), peak memory on hostile
files, and the command line on hostile files: one line, exit 1 or 2, no traceback."""

import random
import subprocess
import sys
from pathlib import Path

import pytest

import crash
import hostile
import memory
import spikecodec
from spikecodec.stats import firing_rates


@pytest.mark.parametrize("seed", [2, 7])  # auto with chunk 1, zstd with chunk 2 and flushes every 3
def test_every_flushed_frame_survives_sigkill(tmp_path, seed):
    rng = random.Random(seed)
    result = crash.kill_stream(tmp_path, seed, rng.uniform(0.05, 0.25), cli="inprocess")
    assert result.exact and result.recovered >= result.flushed, result
    assert result.cli_ok is not False, result


def test_recover_command_rewrites_a_killed_stream(tmp_path):
    result = crash.kill_stream(tmp_path, 11, 0.15, cli="subprocess")
    assert result.ok, result


def test_save_killed_midway_leaves_old_or_new_content(tmp_path):
    # After one completed save, a second save over the same path is killed a quarter and three
    # quarters of the way through (of the first save's duration): kill_save raises unless the
    # path holds exactly the old or the new array.
    for seed, fraction in ((0, 0.25), (1, 0.75)):
        result = crash.kill_save(tmp_path, seed, fraction)
        assert result.held in ("old", "new"), result


HOSTILE = memory.hostile_files()


def test_hostile_files_stay_under_the_memory_bound():
    names = ["chunk-grid-bomb", "index-count-huge", "zstd-bomb", "payload-size-huge", "metadata-nesting", "metadata-900k-string"]
    files = [HOSTILE[n][0] for n in names]
    assert max(map(len, files)) <= 1 << 20
    result = memory.measure(files)  # one process reads them all: the peak is the worst of them
    assert result["extra_mib"] < memory.BOUND_MIB, result


def test_a_read_costs_about_its_declared_output():
    # ~221-byte files declaring D MiB of elements in one chunk: H = W = 1 (once 9 padded bytes
    # an element), huge planes and huge rows (once 8-byte context tables per element of a plane
    # and of a row, countctx a table per position), 8-bit zstd (once the decompressed bytes
    # beside the output). decode and validate cost D + a constant;
    # open + one selection at most the chunk beside the selection's box (r[0] of a chunk of 3
    # or 4 timesteps: D + D/3); all under the bound. One process reads them all.
    declared = {"context-declares-32MiB": 32, "context-declares-32MiB-HW1": 32, "context-declares-16MiB-huge-planes": 16,
                "context-declares-16MiB-huge-rows": 16, "countctx-declares-8MiB-huge-planes": 8, "zstd-8bit-declares-32MiB": 32}
    result = memory.measure([HOSTILE[name][0] for name in declared])
    assert result["outcome"] == ["ok"] * len(declared), result
    assert result["extra_mib"] < memory.BOUND_MIB, result
    for (name, mib), ops in zip(declared.items(), result["extra_mib_by_op_each"]):
        assert ops["decode"] < mib + 4 and ops["validate"] < mib + 4, (name, ops)
        assert ops["open"] < mib + mib / 2 + 4, (name, ops)


def test_the_work_limit_refuses_tiny_files_standing_for_large_outputs():
    """An entropy payload of a few bytes may declare a chunk of tens of MiB (an all-zero chunk
    codes to nothing): with max_work every read refuses such a file at once, with a
    LimitError; without it the file conforms and reads."""
    import time

    limits = spikecodec.ReadLimits(max_work=1 << 16)
    for name in ("context-declares-32MiB", "context-declares-16MiB-huge-planes", "countctx-declares-8MiB-huge-planes"):
        data = HOSTILE[name][0]
        start = time.perf_counter()
        with pytest.raises(spikecodec.LimitError, match="max_work"):
            spikecodec.decode(data, limits=limits)
        report = spikecodec.validate(data, limits=limits)
        assert not report.ok and report.conforming_so_far and report.problems[0].limit
        assert time.perf_counter() - start < 2
        assert spikecodec.validate(data).ok  # conforming: only the limit said no


def test_whole_file_reads_are_capped_by_max_bytes_up_front():
    """validate and inspect --stats decode a whole file: max_bytes caps what they decode
    together, checked before the first chunk, so a small file of many chunks each declaring
    just under the cap cannot multiply it (and does not run for minutes before the refusal)."""
    import numpy as np

    x = np.zeros((64, 4, 256, 256), np.uint8)  # 64 chunks of 256 KiB, each a few bytes coded
    data = spikecodec.encode(x, chunk=1, codec="context")
    assert len(data) < 6000
    limits = spikecodec.ReadLimits(max_bytes=1 << 20)  # each chunk fits, four of them
    report = spikecodec.validate(data, limits=limits)
    assert not report.ok and report.conforming_so_far and report.chunks_checked == 0, report
    assert "the whole file decodes to 16777216 bytes, over max_bytes" in report.problems[-1].message
    with pytest.raises(spikecodec.LimitError, match="the whole file decodes to 16777216 bytes"):
        firing_rates(spikecodec.open(data, limits=limits))
    assert spikecodec.validate(data).ok


def test_the_lockstep_lanes_decoder_costs_at_most_three_times_its_output():
    """``ctxlanes`` trades memory for speed on 1-bit chunks: beside the output, a zero-padded copy
    of the chunk's significance, at most twice the output (smaller padded planes are decoded lane
    by lane, as ``context``)."""
    result = memory.measure(HOSTILE["ctxlanes-declares-32MiB"][0])
    assert result["outcome"] == "ok", result
    ops = result["extra_mib_by_op"]
    assert 32 + 16 < ops["decode"] < 3 * 32 + 4, ops  # the padded copy is there, and bounded


def test_declared_size_over_max_bytes_is_refused_before_allocating():
    data, _ = HOSTILE["context-declares-256MiB"]
    result = memory.measure(data, max_bytes=memory.BOUND_MIB << 20)
    assert result["outcome"] == "rejected" and result["extra_mib"] < memory.BOUND_MIB, result


def _cli(*args, stdin=None):
    exe = Path(sys.executable).with_name("spikecodec")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, input=stdin)


@pytest.mark.parametrize("command", ["decode", "validate", "recover"])
def test_command_line_on_a_hostile_file_prints_one_line(tmp_path, command):
    bad = tmp_path / "bad.spk"
    bad.write_bytes(hostile.with_metadata(hostile.valid_vectors()["chunks-2d"], b'{"a":' * 50_000 + b"1" + b"}" * 50_000))
    out = tmp_path / ("out.npy" if command == "decode" else "out.spk")
    args = {"decode": [str(bad), "-o", str(out)], "recover": [str(bad), "-o", str(out)]}.get(command, [str(bad)])
    r = _cli(command, *args)
    said = (r.stdout + r.stderr).strip()  # validate reports on stdout, the others on stderr
    assert r.returncode in (1, 2), (r.returncode, said)
    assert "Traceback" not in said and len(said.splitlines()) == 1, said
    assert not out.exists()


def test_command_line_in_process_on_many_mutants(tmp_path, capsys):
    from spikecodec_cli.main import main

    rng = random.Random(8)
    vectors = list(hostile.valid_vectors().values())
    for i in range(40):
        path = tmp_path / f"m{i}.spk"
        path.write_bytes(hostile.mutate(rng.choice(vectors), rng, rng.choice(vectors)))
        for args in (["validate", str(path)], ["decode", str(path), "-o", str(tmp_path / "o.npy")]):
            code = main(args)
            captured = capsys.readouterr()
            said = (captured.out + captured.err).strip()
            assert code in (0, 1), (args, said)
            assert "Traceback" not in said
            lines = said.splitlines()
            if args[0] == "validate":  # one line per problem, each naming the file
                assert all(line.startswith(str(path)) for line in lines), said
            else:
                assert code == 0 or len(lines) == 1, said

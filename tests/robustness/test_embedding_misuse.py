"""What a careless user embedding the codec in a pipeline of their own still got wrong answers
to (an outside probe of about 8,400 cases of the Python API): each is now refused before anything
is written, or does what the same call does elsewhere in the library."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import spikecodec
from spikecodec.codecs.base import ArrayCodec
from spikecodec.output import OutputError

FRAME = np.ones((2, 3), np.uint8)
PYTHON = [sys.executable, "-c"]


def test_metadata_a_reader_refuses_is_not_written_and_the_old_file_stays(tmp_path):
    path = tmp_path / "good.spk"
    spikecodec.save(path, np.ones((4, 2, 3), np.uint8), codec="raw")
    before = path.read_bytes()
    for metadata in ({"count": 10**400}, {"a": [2**1100]}, {"x": -(10**309)}):
        with pytest.raises(ValueError, match="too large for a double"):
            spikecodec.save(path, FRAME[None], codec="raw", metadata=metadata)
        with pytest.raises(ValueError, match="too large for a double"):
            spikecodec.LinkEncoder((2, 3), metadata=metadata)
    assert path.read_bytes() == before
    assert spikecodec.validate(path).ok


@pytest.mark.parametrize("args, problem", [
    (("order0", {}, {}, {}), "tables must be a non-empty list"),
    (("order0", {"bits": -1}, {"t": np.zeros(3, np.uint32)}, {}), "geometry must map names to non-negative integers"),
    (("order0", {}, {1: np.zeros(3, np.uint32)}, {}), "bad table entry"),
    (("order0", {}, {"t": np.zeros(3, np.uint32)}, {"n": 10**400}), "too large for a double"),
])
def test_a_prior_its_reader_would_refuse_cannot_be_made(args, problem):
    with pytest.raises(ValueError, match=problem):
        spikecodec.Prior(*args)


def test_an_error_inside_the_with_block_leaves_the_stream_unfinished_not_shorter(tmp_path):
    """A source that broke off (an exception, Ctrl-C) must not look like a finished stream of
    fewer frames: its receiver is told, and recovery still reads every frame appended."""
    path = tmp_path / "cut.spk"
    with pytest.raises(RuntimeError, match="camera unplugged"):
        with spikecodec.SpikeWriter(path, codec="raw", chunk=2) as w:
            for i in range(5):
                if i == 3:
                    raise RuntimeError("camera unplugged")
                w.append(FRAME * (i % 2))
    assert not spikecodec.validate(path).ok
    with pytest.raises(spikecodec.FormatError):
        spikecodec.load(path)
    recovered = spikecodec.load(path, recover=True)
    assert np.array_equal(recovered, np.stack([FRAME * (i % 2) for i in range(3)]))


def test_a_receiver_sees_a_stream_its_sender_broke_off_as_unfinished():
    r, w = os.pipe()
    got: dict[str, object] = {}

    def receive() -> None:
        try:
            with spikecodec.SpikeStream(open(r, "rb")) as s:
                got["rows"] = sum(len(x) for x in s)
        except spikecodec.FormatError as exc:
            got["error"] = exc

    receiver = threading.Thread(target=receive)
    receiver.start()
    with pytest.raises(KeyboardInterrupt):
        with open(w, "wb") as f, spikecodec.SpikeWriter(f, codec="raw") as writer:
            for i in range(3):
                writer.append(FRAME)
            raise KeyboardInterrupt
    receiver.join(30)
    assert "error" in got and "rows" not in got


def test_a_write_that_returns_a_negative_or_foreign_count_is_an_error_not_a_loop():
    for returned, kind in ((-1, OSError), (10**9, OSError), ("x", TypeError), (2.5, TypeError)):
        calls = []

        class Sink:
            def write(self, data):
                calls.append(len(data))
                if len(calls) > 50:
                    raise RuntimeError("write_all loops")
                return returned

        with pytest.raises(kind, match="write"):
            spikecodec.save(Sink(), FRAME, codec="raw")


def test_dev_stdout_is_written_through_not_replaced(tmp_path):
    """``save("/dev/stdout")`` replaced the file standard output was redirected to (``>>`` lost
    what was there) and failed on a pipe; it is now written to descriptor 1, as ``-``."""
    log = tmp_path / "app.bin"
    log.write_bytes(b"EARLIER\n")
    code = "import numpy as np, spikecodec; spikecodec.save('/dev/stdout', np.ones((2, 2), np.uint8), codec='raw')"
    with open(log, "ab") as out:
        subprocess.run([*PYTHON, code], stdout=out, check=True)
    data = log.read_bytes()
    assert data.startswith(b"EARLIER\n") and np.array_equal(spikecodec.decode(data[8:]), np.ones((2, 2), np.uint8))
    piped = subprocess.run([*PYTHON, code], stdout=subprocess.PIPE, check=True).stdout
    assert np.array_equal(spikecodec.decode(piped), np.ones((2, 2), np.uint8))
    streamed = subprocess.run([*PYTHON, "import numpy as np, spikecodec\nwith spikecodec.SpikeWriter('-', codec='raw') as w:\n"
                               "    w.append(np.ones((2, 3), np.uint8))"], stdout=subprocess.PIPE, check=True, cwd=tmp_path).stdout
    assert np.array_equal(spikecodec.decode(streamed), FRAME[None]) and not (tmp_path / "-").exists()


def test_the_command_line_writes_through_dev_stdout(tmp_path):
    np.save(tmp_path / "s.npy", np.ones((2, 3, 4), np.uint8))
    log = tmp_path / "log.bin"
    log.write_bytes(b"EARLIER\n")
    command = [sys.executable, "-m", "spikecodec", "encode", "s.npy", "-o", "/dev/stdout", "--codec", "raw"]
    with open(log, "ab") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert log.read_bytes().startswith(b"EARLIER\n\x8aSPK")


def test_an_ellipsis_of_no_axes_between_index_arrays_places_them_as_numpy():
    a = (np.random.default_rng(1).random((2, 3, 4)) < 0.5).astype(np.uint8)
    r = spikecodec.open(spikecodec.encode(a, codec="raw", chunk=[1, 2]))
    for key in [(slice(None), [0, 1], ..., [1, 0]), (slice(None), [0], ..., 0), ([1, 0], ..., slice(None), [2, 3]),
                (0, slice(None), ..., [1, 2])]:
        assert r[key].shape == a[key].shape and np.array_equal(r[key], a[key]), key
    assert np.array_equal(r[None, np.int64(0)], a[None, np.int64(0)])


def test_save_onto_a_path_a_spike_writer_holds_is_refused(tmp_path):
    path = tmp_path / "held.spk"
    with spikecodec.SpikeWriter(path, codec="raw") as w:
        w.append(FRAME)
        with pytest.raises(OutputError, match="a SpikeWriter .* is writing this file"):
            spikecodec.save(path, np.zeros((5, 2, 3), np.uint8), codec="raw")
        w.append(FRAME)
    assert spikecodec.load(path).shape == (2, 2, 3)
    spikecodec.save(path, np.zeros((5, 2, 3), np.uint8), codec="raw")  # the writer is gone: replaced
    assert spikecodec.load(path).shape == (5, 2, 3)


def test_train_prior_reads_a_binary_file_object_as_one_spike_file(tmp_path):
    data = spikecodec.encode(np.ones((2, 4, 2, 3, 3), np.uint8), codec="raw")
    assert spikecodec.train_prior(io.BytesIO(data), "order0").digest == spikecodec.train_prior(data, "order0").digest
    (tmp_path / "t.spk").write_bytes(data)
    with open(tmp_path / "t.spk", encoding="latin-1") as text, pytest.raises(TypeError, match="'rb'"):
        spikecodec.train_prior(text, "order0")
    with pytest.raises(TypeError, match="info is a dict"):
        spikecodec.train_prior(data, "order0", info=[1])


def test_register_codec_takes_only_codec_classes_with_ids_a_header_holds():
    for thing in (None, 5, "raw", type("NotACodec", (), {"codec_id": "nope"})):
        with pytest.raises(TypeError, match="Codec subclass"):
            spikecodec.register_codec(thing)
    for bad_id in ("x" * 33, "", "é"):
        with pytest.raises(ValueError, match="ASCII characters"):
            spikecodec.register_codec(type("Odd", (ArrayCodec,), {"codec_id": bad_id}))
    assert not any(k in spikecodec.registered_codecs() for k in ("nope", "x" * 33, "", "é"))


def test_yes_no_and_seconds_options_take_what_they_say():
    prior = spikecodec.train_prior(spikecodec.encode(np.ones((2, 4, 2, 3, 3), np.uint8), codec="raw"), "order0")
    with pytest.raises(TypeError, match="embed_prior must be True or False"):
        spikecodec.encode(np.ones((2, 4, 2, 3, 3), np.uint8), codec="order0", prior=prior, embed_prior="false")
    data = spikecodec.encode(FRAME[None], codec="raw")
    for wait in (10**400, np.int64(1), np.float64(0.5)):
        with spikecodec.SpikeStream(data, wait=wait) as s:
            assert np.array_equal(np.concatenate(list(s)), FRAME[None])


def test_a_consumer_closed_or_a_clean_exit_still_finishes_the_file(tmp_path):
    """Only an error abandons the stream: a generator closed by its consumer (GeneratorExit) and
    sys.exit(0) leave the block as a finished stream, as before."""
    path = tmp_path / "gen.spk"

    def sink():
        with spikecodec.SpikeWriter(path, codec="raw") as w:
            while True:
                w.append((yield))

    consumer = sink()
    next(consumer)
    for _ in range(3):
        consumer.send(FRAME)
    consumer.close()
    assert spikecodec.load(path).shape == (3, 2, 3)
    code = ("import sys, numpy as np, spikecodec\nwith spikecodec.SpikeWriter(sys.argv[1], codec='raw') as w:\n"
            "    w.append(np.ones((2, 3), np.uint8))\n    sys.exit(0)")
    subprocess.run([*PYTHON, code, str(tmp_path / "exit.spk")], check=True)
    assert spikecodec.load(tmp_path / "exit.spk").shape == (1, 2, 3)


def test_another_program_s_shared_lock_does_not_stop_save(tmp_path):
    import fcntl

    path = tmp_path / "shared.spk"
    spikecodec.save(path, FRAME[None], codec="raw")
    with open(path, "rb") as other:
        fcntl.flock(other, fcntl.LOCK_SH)  # a reader's lock, not a SpikeWriter's
        spikecodec.save(path, np.zeros((2, 2, 3), np.uint8), codec="raw")
    assert spikecodec.load(path).shape == (2, 2, 3)


def test_a_descriptor_open_for_reading_only_is_said_so(tmp_path):
    (tmp_path / "in.bin").write_bytes(b"x")
    fd = os.open(tmp_path / "in.bin", os.O_RDONLY)
    try:
        with pytest.raises(OutputError, match=f"descriptor {fd} is open for reading only"):
            spikecodec.save(f"/dev/fd/{fd}", FRAME, codec="raw")
    finally:
        os.close(fd)
    assert (tmp_path / "in.bin").read_bytes() == b"x"

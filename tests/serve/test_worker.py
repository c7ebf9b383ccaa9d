"""The model worker's side of the batch wire (spikecodec.serve.worker), in this process: one
blob per batch in, statuses and logits out; a stream whose message fails is refused once, then
skipped, and other streams in the same batch are answered as offline."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from spikecodec.serve import protocol as P
from spikecodec.serve.worker import (OK, OPEN_ANSWER, REFUSED, SKIPPED, U32, Model, pack_batch, read_frame_blocking, send_frame,
                                     serve_forever, unpack_batch, unpack_results)

from serve_helpers import offline_logits, stream_messages


def test_pack_and_unpack_a_batch():
    sids, messages = unpack_batch(pack_batch([3, 7, 3], [b"abc", b"x", b"hello"]))
    assert sids.tolist() == [3, 7, 3] and messages == [b"abc", b"x", b"hello"]


def test_worker_batch_refuses_then_skips_a_failed_stream(spikes):
    model = Model(None, 1)
    model.warm_up()
    a_header, a_messages, a_end = stream_messages(spikes[:3])
    b_header, b_messages, b_end = stream_messages(spikes[3:6])
    for sid, header in ((1, a_header), (2, b_header)):
        answer = model.open(U32.pack(sid) + header)
        assert OPEN_ANSWER.unpack_from(answer) == (sid, 0)
    bad = model.open(U32.pack(9) + b"SPK\x89garbage")
    assert OPEN_ANSWER.unpack_from(bad)[1] == P.BAD_HEADER and bad[OPEN_ANSWER.size :].decode().startswith("bad header message")
    # Stream 1: an image, a truncated one, then one more (skipped); stream 2: all three.
    sids = [1, 2, 1, 2, 1, 2]
    messages = [a_messages[0], b_messages[0], a_messages[1][:-1], b_messages[1], a_messages[2], b_messages[2]]
    status, logits, refused = unpack_results(model.batch(pack_batch(sids, messages)), model.classes)
    assert status == [OK, OK, REFUSED, OK, SKIPPED, OK]
    assert refused[2][0] == P.BAD_MESSAGE and refused[2][1].startswith("bad message:")
    want_a, want_b = offline_logits(a_header, a_messages, a_end), offline_logits(b_header, b_messages, b_end)
    np.testing.assert_allclose(logits, np.stack([want_a[0], want_b[0], want_b[1], want_b[2]]), rtol=0, atol=1e-5)
    # A closed stream's later images are skipped, not decoded.
    model.close(U32.pack(2))
    status, logits, refused = unpack_results(model.batch(pack_batch([2], [b_messages[0]])), model.classes)
    assert status == [SKIPPED] and logits.shape == (0, model.classes) and refused == {}


def _request(sock, kind: bytes, body: bytes) -> None:
    send_frame(sock, kind, body)


def test_serve_forever_answers_in_request_order_across_its_two_stages(spikes):
    """Opens, batches and closes sent back to back: decoding runs ahead of the cloud half, yet
    every answer comes back in the order of the requests, and the logits are the offline ones."""
    model = Model(None, 1)
    model.warm_up()
    header, messages, end = stream_messages(spikes[:4])
    ours, theirs = socket.socketpair()
    server = threading.Thread(target=serve_forever, args=(theirs, model), daemon=True)
    server.start()
    _request(ours, b"O", U32.pack(5) + header)
    for m in messages:  # four one-image batches in a row, none waited for
        _request(ours, b"B", pack_batch([5], [m]))
    _request(ours, b"C", U32.pack(5))
    _request(ours, b"O", U32.pack(6) + header)  # the same stream again, from its start
    _request(ours, b"B", pack_batch([6, 6], messages[:2]))
    kinds, bodies = zip(*(read_frame_blocking(ours) for _ in range(7)))
    assert kinds == (b"o", b"R", b"R", b"R", b"R", b"o", b"R")
    want = offline_logits(header, messages, end)
    got = [unpack_results(b, model.classes) for b in bodies[1:5]]
    assert all(status == [OK] for status, _, _ in got)
    np.testing.assert_allclose(np.concatenate([logits for _, logits, _ in got]), want, rtol=0, atol=1e-5)
    status, logits, _ = unpack_results(bodies[6], model.classes)
    assert status == [OK, OK]
    np.testing.assert_allclose(logits, want[:2], rtol=0, atol=1e-5)
    ours.close()  # the server side ends: serve_forever returns
    server.join(30)
    assert not server.is_alive()


def test_serve_forever_stops_and_raises_when_the_cloud_half_fails(spikes, monkeypatch):
    model = Model(None, 1)
    model.warm_up()
    header, messages, _ = stream_messages(spikes[:2])

    def broken(decoded):
        raise RuntimeError("the cloud half broke")

    monkeypatch.setattr(model, "answer", broken)
    ours, theirs = socket.socketpair()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            serve_forever(theirs, model)
        except BaseException as exc:
            failure.append(exc)

    server = threading.Thread(target=run, daemon=True)
    server.start()
    _request(ours, b"O", U32.pack(1) + header)
    assert read_frame_blocking(ours)[0] == b"o"
    _request(ours, b"B", pack_batch([1], messages[:1]))
    server.join(30)
    assert not server.is_alive()
    assert len(failure) == 1 and str(failure[0]) == "the cloud half broke"
    ours.settimeout(5)
    with pytest.raises(EOFError):  # no answer: the worker's socket is shut, and the server sees it exit
        read_frame_blocking(ours)

"""The model worker's side of the batch wire (spikecodec.serve.worker), in this process: one
blob per batch in, statuses and logits out; a stream whose message fails is refused once, then
skipped, and other streams in the same batch are answered as offline."""

from __future__ import annotations

import numpy as np

from spikecodec.serve import protocol as P
from spikecodec.serve.worker import OK, OPEN_ANSWER, REFUSED, SKIPPED, U32, Model, pack_batch, unpack_batch, unpack_results

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

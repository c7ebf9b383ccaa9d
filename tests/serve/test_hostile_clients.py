"""Hostile and careless clients of `spikecodec serve` and of the per-message API: each gets one
clear refusal (its close code, or FormatError with its problem code), nothing is decoded wrongly,
the server keeps serving the others, and what one client can make the server hold is bounded.
(tests/serve/test_serve.py has the protocol-level hostile streams; these are the ones it missed.)"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import threading
import time

import numpy as np
import pytest

from spikecodec.container.link import LinkDecoder, LinkEncoder
from spikecodec.errors import FormatError
from spikecodec.serve import protocol as P
from spikecodec.serve.server import ServeConfig

from serve_helpers import IMAGES, TOKEN, masked_frame, raw_stream, read_to_the_end, serve, stream_messages, upgraded
from test_serve import check_against_offline, close_of, good_client, hello, open_raw

HANDSHAKE = 1.0  # seconds: this file's server gives a client this long for the upgrade, the hello and the header


@pytest.fixture(scope="module")
def server():
    config = ServeConfig(tokens=[TOKEN], max_batch=32, max_wait_ms=3, idle_timeout=3, handshake_timeout=HANDSHAKE, workers=1)
    with serve(config) as running:
        yield running


@pytest.fixture(scope="module")
def stream_start(spikes) -> tuple[bytes, bytes]:
    """A hello and a header, made before connecting: making them loads the model, which may take
    longer than this file's handshake timeout."""
    return hello(), stream_messages(spikes[:1])[0]


def errors(server, kind: str) -> float:
    return server.metric("spikecodec_serve_errors_total", f'kind="{kind}"')


def raw_hello(obj: dict | str) -> bytes:
    text = obj if isinstance(obj, str) else json.dumps(obj)  # json.dumps writes a lone surrogate as \ud800
    return P.MAGIC + bytes([P.VERSION]) + text.encode()


def server_frames(data: bytes):
    """(opcode, payload) of the unmasked frames a server sent, in order."""
    at = 0
    while at + 2 <= len(data):
        op, n = data[at] & 0x0F, data[at + 1] & 0x7F
        at += 2
        if n == 126:
            n, at = struct.unpack(">H", data[at : at + 2])[0], at + 2
        elif n == 127:
            n, at = struct.unpack(">Q", data[at : at + 8])[0], at + 8
        yield op, data[at : at + n]
        at += n


# -- the hello ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, hello", [
    ("JSON nested thousands deep", raw_hello("[" * 4000)),
    ("a token with a lone surrogate", raw_hello({"token": "\ud800", "model": "snn-resnet-fmnist", "prior": None})),
    ("a model with a lone surrogate", raw_hello({"token": TOKEN, "model": "x\udfff", "prior": None})),
    ("a prior with a lone surrogate", raw_hello({"token": TOKEN, "model": "snn-resnet-fmnist", "prior": "\ud800" * 3})),
    ("a key given twice", raw_hello('{"token": "%s", "token": "other", "model": "snn-resnet-fmnist"}' % TOKEN)),
])
def test_malformed_hello_is_bad_hello_not_an_internal_error(server, name, hello):
    # Before: RecursionError and UnicodeEncodeError escaped the hello's checks -- close code 1011
    # "internal error" with a traceback in the log (before any token was checked), or no close
    # frame at all (the reason could not be encoded).
    internal = errors(server, "internal")
    code, reason = close_of(open_raw(server.address, [hello]), 10)
    assert code == P.BAD_HELLO, (name, code, reason)
    assert reason.startswith("the hello"), reason
    assert errors(server, "internal") == internal


# -- before the WebSocket upgrade ---------------------------------------------------------------


def assert_closed_in_time(address: str, sent: bytes, within: float) -> None:
    """A connection that sends ``sent`` and then nothing is closed by the server within ``within``
    seconds, with nothing answered."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(sent)
        start = time.monotonic()
        sock.settimeout(within + 1)
        try:
            got = sock.recv(1024)
        except socket.timeout:
            pytest.fail(f"the connection is still open {within + 1:g} s after it was made")
        except ConnectionResetError:
            got = b""
        assert got == b"" and time.monotonic() - start < within


@pytest.mark.parametrize("sent", [b"", b"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgr"], ids=["nothing", "half a request"])
def test_connection_without_a_whole_request_is_closed(server, sent):
    # Before: uvicorn waits for ever for a request's headers (slowloris: a few thousand such
    # connections take every file descriptor the server has).
    assert_closed_in_time(server.address, sent, HANDSHAKE + 3)


def test_tls_connection_that_never_begins_its_handshake_is_closed_in_the_handshake_timeout(tmp_path):
    # Found by an outside probe: with TLS, a silent connection was held for asyncio's default
    # handshake timeout (60 s), uncounted by --max-connections, where a plain one had 10 s.
    from test_serve import self_signed

    config = ServeConfig(tokens=[TOKEN], max_batch=32, max_wait_ms=3, idle_timeout=3, handshake_timeout=HANDSHAKE, workers=1)
    with serve(config, tls=self_signed(tmp_path)) as running:
        for sent in (b"", b"\x16\x03\x01"):  # nothing; the first bytes of a ClientHello
            assert_closed_in_time(running.address, sent, HANDSHAKE + 5)


def test_keep_alive_connection_trickling_a_second_request_is_closed(server):
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b"}"):  # the whole answer (its JSON body)
            reply += sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        sock.settimeout(0.3)
        got = None
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        while time.monotonic() - start < HANDSHAKE + 8:  # the next request's headers, a byte now and then
            try:
                sock.sendall(b"a")
                got = sock.recv(1024)
                break
            except socket.timeout:
                continue
            except OSError:
                got = b""
                break
        assert got == b"", "the connection is still open"


def test_a_request_head_over_the_cap_is_refused_before_it_ends(server):
    # Before: httptools (uvicorn's parser when installed) read a request's headers whole,
    # however large: one request of 1.9 GB of headers grew the server by as much.
    from spikecodec.serve.server import HEAD_MAX_BYTES

    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (4 * HEAD_MAX_BYTES))  # the head goes on
        sock.settimeout(HANDSHAKE / 2)  # answered before the handshake timeout would close it
        assert sock.recv(1024).startswith(b"HTTP/1.1 400")


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) << 10 for line in f if line.startswith("VmRSS"))


def test_requests_pipelined_by_a_client_that_never_reads_are_not_read_ahead(server):
    # Before: httptools parsed every pipelined request as it came and queued it: a client that
    # never read its answers made the server hold ~50 bytes a byte it sent (3.6 MB -> +190 MB).
    host, port = server.address.split(":")
    before = _rss_bytes()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(0.5)
        requests = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 1000
        sent = 0
        with contextlib.suppress(socket.timeout):  # the server stopped reading: the buffers are full
            while sent < 100:
                sock.sendall(requests)
                sent += 1
        time.sleep(1.0)
        grown = _rss_bytes() - before
    assert grown < 24 << 20, f"the server grew by {grown >> 20} MiB for {sent * len(requests) >> 20} MiB of requests"


def test_gigabyte_frame_and_other_protocols_refused_at_once(server, stream_start):
    host, port = server.address.split(":")
    sock, data = raw_stream(server.address, stream_start)
    with sock:  # a frame declaring 4 GiB: refused from its length field (1009), nothing allocated
        sock.sendall(bytes([0x82, 0x80 | 127]) + struct.pack(">Q", 4 << 30) + os.urandom(4) + b"\0" * 1000)
        data = read_to_the_end(sock, data)
        assert [(op, struct.unpack(">H", body[:2])[0]) for op, body in server_frames(data) if op == 8] == [(8, 1009)]
    tls_hello = bytes.fromhex("16030100a5010000a10303") + os.urandom(32) + b"\x00\x00\x02\x13\x01\x01\x00"
    for junk in (b"\x00\xff" * 600 + b"\r\n\r\n", tls_hello, b"POST /v1/stream HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=10) as c:
            c.sendall(junk)
            reply = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                reply += chunk
            assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply[:60]


# -- during a stream ------------------------------------------------------------------------------


def test_client_gone_mid_reply_is_disconnected_not_internal(server, spikes, stream_start):
    # A client sends more images than the window and resets its connection without reading
    # the answers. Before, when an answer was written after the reset (a race, so the test
    # below makes it certain): Starlette's WebSocketDisconnect, which the writer did not take
    # for a disconnect -- a traceback in the log ("stream failed") and an internal error.
    internal, gone = errors(server, "internal"), errors(server, "disconnected")
    _, messages, _ = stream_messages(spikes[: 3 * IMAGES])
    sock, _ = raw_stream(server.address, stream_start)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
    sock.sendall(b"".join(masked_frame(P.encode_image(i, m)) for i, m in enumerate(messages)))
    time.sleep(0.1)
    sock.close()
    deadline = time.monotonic() + 10
    while errors(server, "disconnected") == gone and time.monotonic() < deadline:
        time.sleep(0.05)
    assert errors(server, "disconnected") == gone + 1
    assert errors(server, "internal") == internal


def test_answer_to_a_vanished_client_is_client_gone(server):
    # The same, made certain: an answer frame sent to a connection that is gone. Before:
    # Starlette's WebSocketDisconnect escaped the writer (it caught OSError and RuntimeError only).
    import asyncio

    from starlette.websockets import WebSocketDisconnect

    from spikecodec.serve.server import ClientGone, Entry, Session

    class Vanished:
        async def send_bytes(self, data: bytes) -> None:
            raise WebSocketDisconnect(1006)

    async def run() -> None:
        session = Session(0, server.service.shards[0], "test", 4)
        entry = Entry(session, 7, b"", 0.0)
        entry.result = (1, np.zeros(server.service.classes, np.float32))
        session.in_flight.append(entry)
        session.reading_done = True
        await session.window.acquire()
        with pytest.raises(ClientGone):
            await server.service._write_answers(Vanished(), session)  # type: ignore[arg-type]
        assert session.gone

    asyncio.run(run())


def test_ping_flood_of_a_client_that_never_reads_is_bounded(server, spikes, stream_start):
    # Every ping is answered with a pong whatever the write buffer holds: a client that sent
    # pings and never read made the server buffer the pongs without bound (54 MB of 60 MB
    # sent). Now a peer that does not read what the server writes is not read either.
    sock, _ = raw_stream(server.address, stream_start)
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        mask = os.urandom(4)
        ping = bytes([0x89, 0x80 | 125]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(b"p" * 125))
        burst = ping * 1000
        sock.settimeout(0.5)
        sent, start = 0, time.monotonic()
        while sent < 40_000_000 and time.monotonic() - start < 6:
            try:
                sent += sock.send(burst)
            except (socket.timeout, OSError):
                break
        time.sleep(0.2)
        buffered = [p.transport.get_write_buffer_size() for p in list(server.server.server_state.connections)
                    if getattr(p, "transport", None) is not None]
        assert max(buffered, default=0) < 4 << 20, (sent, buffered)
        # The others are served as before.
        out: dict = {}
        good_client(server.address, spikes[:IMAGES], out, 0)
        check_against_offline(*out[0])
        # The flooding stream, idle, is closed (4009), but its close frame cannot be written to a
        # peer that reads nothing: the connection is cut once a write has waited idle_timeout
        # (3 s here). Before: the stream waited for ever to write its close.
        deadline = time.monotonic() + 2 * 3 + 5
        while server.service.streams and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not server.service.streams


@pytest.mark.parametrize("kind", ["empty fragments", "pings"])
def test_a_flood_of_frames_that_carry_nothing_is_cut_and_the_others_go_on(server, spikes, kind, caplog):
    """Without a token: a message's empty continuation frames (6 bytes each), or pings, sent as
    fast as a socket takes them, held the event loop - and every other stream - for as long as
    they came (10 clients' 40 images each: 0.6 s alone, 25 s beside the flood), and uvicorn kept
    every empty fragment. Now the connection is closed at the 1025th fragment or 257th ping."""
    import logging

    mask = b"\0\0\0\0"
    if kind == "empty fragments":
        start, frame, reason = bytes([0x02, 0x81]) + mask + b"\0", bytes([0x00, 0x80]) + mask, "more than 1024 frames"
    else:
        start, frame, reason = b"", bytes([0x89, 0x80]) + mask, "more than 256 pings"
    sock, _ = upgraded(server.address)
    with caplog.at_level(logging.INFO), sock:
        sock.sendall(start)
        begun = time.monotonic()
        cut = False
        try:
            for _ in range(200):  # 6 MB: the flood went on for as long as it was sent
                sock.sendall(frame * 5000)
            while sock.recv(65536):
                pass
            cut = True
        except OSError:  # reset: the server closed the connection while frames were still coming
            cut = True
        assert cut and time.monotonic() - begun < 10
    assert any(reason in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    out: dict = {}
    good_client(server.address, spikes[:IMAGES], out, 0)
    check_against_offline(*out[0])


def test_pings_at_a_keepalive_pace_never_end_a_stream(server, spikes, stream_start, monkeypatch):
    """The ping cap counts per time, not per message: an idle client whose keepalive pinged
    (one in 20 s) was cut after 256 pings, 85 minutes in. Here the cap is 5 in 0.3 s."""
    from spikecodec.serve import server as S

    monkeypatch.setattr(S, "CONTROLS_MAX", 5)
    monkeypatch.setattr(S, "CONTROLS_SECONDS", 0.3)
    sock, _ = raw_stream(server.address, stream_start)
    with sock:
        ping = bytes([0x89, 0x80]) + b"\0\0\0\0"
        for _ in range(4):  # 4 pings a window, 4 windows: 16 in all, never 6 in one
            sock.sendall(ping * 4)
            time.sleep(0.4)
        sock.settimeout(0.5)
        data = b""
        with contextlib.suppress(TimeoutError, socket.timeout):
            while chunk := sock.recv(65536):
                data += chunk
        assert not [op for op, _ in server_frames(data) if op == 8], "the stream was closed"
        sock.sendall(ping * 7)  # then 7 in one window: refused
        assert [struct.unpack(">H", body[:2])[0] for op, body in server_frames(read_to_the_end(sock)) if op == 8] == [1008]


def test_many_connections_more_than_workers_each_answered(server, spikes):
    out: dict = {}
    threads = [threading.Thread(target=good_client, args=(server.address, spikes[k : k + 5], out, k)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(out) == list(range(8))
    for result, ids, header, messages, end in out.values():
        check_against_offline(result, ids, header, messages, end)


def test_connections_past_the_limit_are_answered_busy(spikes):
    # Before: no cap on connections at all (uvicorn's limit_concurrency never applies to a
    # WebSocket upgrade): a client opening thousands took every file descriptor. Past
    # max_connections a new one is answered 503 and closed; one freed is usable again.
    config = ServeConfig(tokens=[TOKEN], max_batch=32, max_wait_ms=3, idle_timeout=3, handshake_timeout=HANDSHAKE,
                         workers=1, max_connections=2)
    with serve(config) as running:
        host, port = running.address.split(":")
        held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(2)]
        time.sleep(0.2)  # both accepted
        with socket.create_connection((host, int(port)), timeout=10) as third:
            answer = b""
            while chunk := third.recv(1024):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 503 ") and b"too many connections" in answer, answer
        # The client said so with a hint to give a TLS certificate (for an HTTP answer).
        from spikecodec.serve import ServeClient

        with pytest.raises(ConnectionError, match="HTTP 503 .the server is at its most connections") as info:
            ServeClient(running.address, token=TOKEN)
        assert "TLS" not in str(info.value)
        for sock in held:
            sock.close()
        time.sleep(0.2)
        out: dict = {}
        good_client(running.address, spikes[:3], out, 0)
        check_against_offline(*out[0])


# -- the per-message API --------------------------------------------------------------------------


def split_stream(n: int = 3):
    """Messages of a stream whose frames are two chunks (records) each, and the frames."""
    rng = np.random.default_rng(7)
    frames = (rng.random((n, 2, 4, 7, 7)) < 0.3).astype(np.uint8)
    enc = LinkEncoder((2, 4, 7, 7), codec="context", chunk=(1, 2, 2, 7, 7))
    return enc, [enc.encode(f) for f in frames], frames


def first_record_only(header: bytes, message: bytes) -> bytes:
    for cut in range(1, len(message)):
        try:
            LinkDecoder(header).decode(message[:cut])
        except FormatError as exc:
            if exc.code in ("row-incomplete", "message-truncated"):  # the latter with message ends (1.9)
                return message[:cut]
    raise AssertionError("no record boundary")


@pytest.mark.parametrize("damage", ["flipped bit", "truncated", "first record only", "next message first"])
def test_refused_message_leaves_the_decoder_where_it_was(damage):
    # Before: a refused message had moved the decoder's place in the chunk grid (and, when its
    # first record was whole, its record and row counts): the intact message sent again, and
    # every message after it, was refused ("out of order", "ends inside a row of chunks").
    enc, messages, frames = split_stream()
    bad = {"flipped bit": lambda m: m[:2] + bytes([m[2] ^ 1]) + m[3:], "truncated": lambda m: m[:-1],
           "first record only": lambda m: first_record_only(enc.header, m), "next message first": lambda m: messages[1]}[damage]
    dec = LinkDecoder(enc.header)
    with pytest.raises(FormatError) as info:
        dec.decode(bad(messages[0]))
    assert info.value.code in ("compact-check", "record-truncated", "row-incomplete", "message-truncated")
    assert (dec.records_read, dec.rows_read) == (0, 0)
    for message, frame in zip(messages, frames):
        assert np.array_equal(dec.decode(message), frame[None])


def test_messages_of_the_wrong_kind_are_refused():
    enc, messages, _ = split_stream()
    other = LinkEncoder((2, 4, 7, 7), codec="context", chunk=(1, 2, 2, 7, 7), metadata={"model": "another"})
    foreign = other.encode(np.zeros((2, 4, 7, 7), np.uint8))
    whole_file = enc.header + b"".join(messages) + enc.end()
    for data in (whole_file, enc.header, foreign, messages[0][:1]):
        dec = LinkDecoder(enc.header)
        with pytest.raises(FormatError):
            dec.decode(data)
        assert np.array_equal(dec.decode(messages[0]), LinkDecoder(enc.header).decode(messages[0]))
    assert LinkDecoder(enc.header).decode(b"").shape == (0, 2, 4, 7, 7)  # an empty message: no frames
    for data in (b"", messages[0], whole_file):  # not a header message
        with pytest.raises(FormatError):
            LinkDecoder(data)


# -- what the serve probe found -------------------------------------------------------------------


def test_a_header_whose_chunks_split_images_is_refused(server):
    # Before: a legal header of one-element winmix chunks made each ~1.3 KB message cost the
    # shared worker about 0.2 s (4,000 times an image's work), and 64 of them held every other
    # stream's images for 10 s. A chunk is now a whole image or more: one record an image.
    from spikecodec.models.coinference import load_split

    _, info = load_split()
    split = LinkEncoder(info["code_shape"], codec="winmix", chunk=(1, 1, 1, 1, 1), metadata=info).header
    code, reason = close_of(open_raw(server.address, [hello(prior=None), split]))
    assert code == P.BAD_HEADER and "whole images" in reason, (code, reason)


def test_a_text_frame_that_is_not_utf8_is_refused_in_one_log_line(server, caplog):
    # Before: uvicorn logged a six-line traceback for each such connection, no token needed.
    import logging

    sock, data = upgraded(server.address)
    with caplog.at_level(logging.INFO), sock:
        mask = os.urandom(4)
        sock.sendall(bytes([0x81, 0x81]) + mask + bytes([0xFF ^ mask[0]]))  # a text frame of one byte, 0xFF
        data = read_to_the_end(sock, data)
    assert [(op, struct.unpack(">H", body[:2])[0]) for op, body in server_frames(data) if op == 8] == [(8, 1007)]
    said = [r.getMessage() for r in caplog.records]
    assert not any("Traceback" in m or r.exc_info for m, r in zip(said, caplog.records)), said
    assert any("a text frame that is not UTF-8" in m for m in said), said


def test_every_refused_client_is_one_log_line(server, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="spikecodec.serve"):
        code, reason = close_of(open_raw(server.address, [P.Hello("wrong", "snn-resnet-fmnist", None).encode()]))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("refused" in r.getMessage() for r in caplog.records):
            time.sleep(0.05)
    assert code == P.UNAUTHORIZED
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and "4001" in lines[0] and "wrong token" in lines[0] and "127.0.0.1:" in lines[0], lines


def test_a_refused_client_whose_token_was_accepted_is_logged_by_its_token(server, caplog):
    # Refused for its model after its token was accepted, it was logged "(not authenticated)".
    import logging

    with caplog.at_level(logging.INFO, logger="spikecodec.serve"):
        code, _ = close_of(open_raw(server.address, [P.Hello(TOKEN, "another-model", None).encode()]))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("refused" in r.getMessage() for r in caplog.records):
            time.sleep(0.05)
    assert code == P.WRONG_MODEL
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and "(token 0)" in lines[0] and "4003" in lines[0], lines


def test_client_ids_must_number_the_images_and_be_in_range(server, spikes):
    from spikecodec.serve import ServeClient

    header, messages, _ = stream_messages(spikes[:5])
    with ServeClient(server.address, token=TOKEN, header=header) as client:
        with pytest.raises(ValueError, match="fewer ids"):  # before: 2 predictions for 5 images, no error
            client.predict_messages(messages, ids=[10, 11])
    with ServeClient(server.address, token=TOKEN, header=header) as client:
        for bad in (-1, 1 << 64, 1.5, "3", True):  # before: struct.error
            with pytest.raises(ValueError, match="an image id is an integer"):
                client.send(bad, messages[0])
        with pytest.raises(TypeError, match="a chunk message is bytes"):  # before: bytes(5) sent five zero bytes
            client.send(0, 5)
        result = client.predict_messages(messages, ids=[np.uint64(7), 8, 9, 10, 11])
        assert list(result.ids) == [7, 8, 9, 10, 11]


def close_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(code, reason) of each close frame in what a server sent."""
    return [(struct.unpack(">H", body[:2])[0], body[2:]) for op, body in server_frames(data) if op == 8]


def test_the_hello_and_the_header_share_one_handshake_timeout(server, stream_start):
    # Found by an outside probe: each had its own handshake_timeout, so a hello at 0.8 of it and a
    # header at 1.6 opened a stream (docs/serve.md: "hello and header within 10 s").
    sock, data = upgraded(server.address)
    with sock:
        time.sleep(0.6 * HANDSHAKE)
        sock.sendall(masked_frame(stream_start[0]))
        time.sleep(0.6 * HANDSHAKE)
        with contextlib.suppress(OSError):  # the server may have closed already
            sock.sendall(masked_frame(stream_start[1]))
        closes = close_frames(read_to_the_end(sock, data))
    assert closes == [(P.TIMEOUT, f"no whole header message within {HANDSHAKE:g} s of connecting".encode())]


def test_a_drain_closes_connections_in_their_handshake_with_1001(spikes, stream_start):
    # Found by the same probe: a connection that had sent its hello but not its header, or nothing
    # yet, was closed by uvicorn's shutdown with 1012 and no reason; a stream's close is 1001.
    config = ServeConfig(tokens=[TOKEN], max_batch=32, max_wait_ms=3, idle_timeout=3, handshake_timeout=5, workers=1)
    with serve(config) as running:
        quiet, quiet_data = upgraded(running.address)
        halfway, halfway_data = upgraded(running.address)
        with quiet, halfway:
            halfway.sendall(masked_frame(stream_start[0]))
            time.sleep(0.3)
            draining = threading.Thread(target=running.drain)
            draining.start()
            for sock, data in ((quiet, quiet_data), (halfway, halfway_data)):
                assert close_frames(read_to_the_end(sock, data)) == [(1001, b"server shutting down: no new streams")]
            draining.join(10)

"""ServeClient against a server that breaks the protocol or stops reading: each case ends in one
clear error (ServerProtocolError, ClientTimeout) within the client's timeout, never in
predictions that are silently missing, a traceback from a stray type, or a hang.

The server here is a few lines of ``websockets``, no model: it answers the hello and the header
with a ready frame of the test's choosing, then each image as the case says."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from typing import Iterator

import numpy as np
import pytest

from spikecodec.container.link import LinkEncoder
from spikecodec.serve import ClientTimeout, ServeClient, ServeError, ServerProtocolError
from spikecodec.serve import protocol as P

TIMEOUT = 2.0  # the client's, in seconds
READY = {"model": "m", "code_shape": [2, 4, 7, 7], "classes": 10, "prior": None, "max_message_bytes": 4096, "window": 64}


def ready(**changes) -> bytes:
    return P.MAGIC + bytes([P.VERSION]) + json.dumps({**READY, **changes}).encode()


def answers(ids: list[int], classes: int = 10) -> bytes:
    return P.encode_answers(ids, np.zeros(len(ids), np.int64), np.zeros((len(ids), classes), np.float32))


@contextlib.contextmanager
def broken_server(ready_frame: bytes | str, answer=None, *, read: bool = True) -> Iterator[str]:
    """A server that sends ``ready_frame`` after the hello and the header, then for each image
    frame sends ``answer(image_id)`` (bytes or str); ``read=False``: it reads nothing after the header."""
    from websockets.asyncio.server import serve

    started = threading.Event()
    box: dict = {}

    async def handler(ws) -> None:
        await ws.recv()
        await ws.recv()
        await ws.send(ready_frame)
        if not read:
            await asyncio.sleep(3600)
        async for frame in ws:
            await ws.send(answer(int.from_bytes(frame[:8], "little")))

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
            box["port"] = server.sockets[0].getsockname()[1]
            box["stop"] = asyncio.get_running_loop().create_future()
            box["loop"] = asyncio.get_running_loop()
            started.set()
            await box["stop"]

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield f"127.0.0.1:{box['port']}"
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set_result, None)
        thread.join(10)


@pytest.fixture(scope="module")
def stream() -> tuple[bytes, list[bytes]]:
    enc = LinkEncoder((2, 4, 7, 7), codec="raw", metadata={"model": "m"})
    spikes = (np.random.default_rng(0).random((5, 2, 4, 7, 7)) < 0.2).astype(np.uint8)
    return enc.header, [enc.encode(s[None]) for s in spikes]


@pytest.mark.parametrize("window", [0, -5, None, "abc", 1.5, True, 1 << 40])
def test_a_ready_frame_with_a_window_that_is_no_count_is_refused(stream, window):
    # Before: a window of 0 or less sent nothing and returned no predictions (`spikecodec edge -q`
    # exited 0 with an empty array); null and "abc" raised TypeError / ValueError from int();
    # 1.5 was taken as 1.
    header, _ = stream
    with broken_server(ready(window=window)) as address:
        with pytest.raises(ServerProtocolError, match="the ready frame's window is not a whole number 1 .. "):
            ServeClient(address, header=header, timeout=TIMEOUT)


@pytest.mark.parametrize("classes", [0, 10**30, True, "10", None])
def test_a_ready_frame_with_a_class_count_that_is_no_count_is_refused(stream, classes):
    header, _ = stream
    with broken_server(ready(classes=classes)) as address:
        with pytest.raises(ServerProtocolError, match="the ready frame's classes is not a whole number"):
            ServeClient(address, header=header, timeout=TIMEOUT)


def test_a_ready_frame_without_a_window_takes_the_default(stream):
    header, messages = stream
    frame = P.MAGIC + bytes([P.VERSION]) + json.dumps({k: v for k, v in READY.items() if k != "window"}).encode()
    with broken_server(frame, lambda i: answers([i])) as address, ServeClient(address, header=header, timeout=TIMEOUT) as client:
        assert client.window == P.DEFAULT_WINDOW
        assert len(client.predict_messages(messages)) == len(messages)


@pytest.mark.parametrize("frame, says", [
    (P.MAGIC + bytes([P.VERSION]) + b'{"classes": 10, "classes": 11}', "not JSON the protocol takes"),
    (P.MAGIC + bytes([P.VERSION]) + b"\xff\xfe", "is not UTF-8"),
    (b"HTTP/1.1 200 OK", "no SPKS magic"),
])
def test_a_malformed_ready_frame_is_a_serve_error(stream, frame, says):
    # Before: ProtocolError (a ValueError) escaped, not ServeError, and "not UTF-8 JSON" for a key given twice.
    header, _ = stream
    with broken_server(frame) as address:
        with pytest.raises(ServerProtocolError, match=says) as info:
            ServeClient(address, header=header, timeout=TIMEOUT)
    assert isinstance(info.value, ServeError) and info.value.code == P.PROTOCOL
    assert str(info.value).startswith("the server broke the protocol: ")


@pytest.mark.parametrize("answer, says", [
    (lambda i: b"\0" * 7, "an answer frame of 7 bytes"),
    (lambda i: b"", "an answer frame of 0 bytes"),
    (lambda i: answers([i + 1]), "answers for ids [1]..., expected [0]..."),
    (lambda i: answers([i, i]), "answers for ids [0, 0]..., expected [0, 1]..."),
    (lambda i: "text", "a text frame"),
    (lambda i: answers([i] * 30000), "1009"),  # 1.3 MB: over the client's 1 MiB frames
])
def test_a_malformed_answer_ends_the_stream_with_the_answers_so_far(stream, answer, says):
    header, messages = stream
    with broken_server(ready(), answer) as address, ServeClient(address, header=header, timeout=TIMEOUT) as client:
        start = time.monotonic()
        with pytest.raises(ServerProtocolError) as info:
            client.predict_messages(messages)
        assert time.monotonic() - start < TIMEOUT + 2
    assert says in str(info.value) and len(info.value.answered) == 0
    assert "connection lost" not in str(info.value)


def test_a_server_that_stops_reading_times_a_send_out(stream):
    # Before: only receiving had a timeout; a send to a server that read nothing waited for ever.
    header, _ = stream
    big = bytes(P.HELLO_MAX_BYTES)  # frames large enough to fill the socket buffers soon
    with broken_server(ready(window=1 << 20), read=False) as address:
        with ServeClient(address, header=header, timeout=TIMEOUT) as client:
            start = time.monotonic()
            with pytest.raises(ClientTimeout, match="the server took no frame within 2 s"):
                for i in range(100_000):
                    client.send(i, big)
            assert time.monotonic() - start < 60


def test_edge_connect_says_the_server_broke_the_protocol_in_one_line(tmp_path, stream):
    images = np.zeros((3, 28, 28), np.uint8)
    np.save(tmp_path / "x.npy", images)
    with broken_server(ready(window=0)) as address:
        run = subprocess.run([sys.executable, "-m", "spikecodec", "edge", "-q", "--images", str(tmp_path / "x.npy"),
                              "--connect", address, "-o", str(tmp_path / "p.npy")], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and not (tmp_path / "p.npy").exists()
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "the server broke the protocol: the ready frame's window" in lines[0], run.stderr

"""Helpers of the serve tests: a ``spikecodec serve`` server run in-process, on a free loopback
port, in a thread of its own; streams of test images, and the offline cloud half's answers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
from spikecodec.serve import protocol as P
from spikecodec.serve.server import CloudService, ServeConfig, create_app, draining_server, uvicorn_config

TOKEN = "s3cret-token-for-tests"
IMAGES = 25


@dataclass
class Running:
    """A server that is up: where it listens, its service (metrics, drain) and its uvicorn server."""

    address: str
    service: CloudService
    server: Any
    loop_holder: dict

    def metric(self, name: str, labels: str = "") -> float:
        """A sample's value from /metrics (0 when absent)."""
        return metric_value(self.service.metrics.text().decode(), name, labels)

    def drain(self, timeout: float = 10.0) -> None:
        """What SIGTERM does, from the test's thread."""
        loop = self.loop_holder["loop"]
        asyncio.run_coroutine_threadsafe(self.server.drain_then_exit(), loop).result(timeout)


def metric_value(text: str, name: str, labels: str = "") -> float:
    want = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.split(" ")[0] == want:
            return float(line.split(" ")[1])
    return 0.0


@contextlib.contextmanager
def serve(config: ServeConfig | None = None, *, tls: tuple[str, str] | None = None) -> Iterator[Running]:
    """Run a server until the block ends."""
    # One worker process unless a test asks for more: each costs a second or two to start.
    config = config or ServeConfig(tokens=[TOKEN], max_batch=32, max_wait_ms=3, idle_timeout=3, handshake_timeout=3, workers=1)
    app, service = create_app(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn_config(app, config, "127.0.0.1", port, tls_cert=tls[0] if tls else None, tls_key=tls[1] if tls else None)
    server = draining_server(uv, service)
    holder: dict = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        loop.run_until_complete(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Running(f"127.0.0.1:{port}", service, server, holder)
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def stream_messages(spikes: np.ndarray) -> tuple[bytes, list[bytes], bytes]:
    """A fresh stream of the spikes: its header message, one chunk message per image, the end
    message. Every such stream has one stream id, so one's header serves another's messages."""
    from spikecodec.container.link import LinkEncoder
    from spikecodec.models.coinference import load_split, shipped_prior

    _, info = load_split()
    enc = LinkEncoder(info["code_shape"], prior=shipped_prior(info["model"]), metadata=info, stream_id=bytes(16))
    messages = [enc.encode(s) for s in spikes]
    return enc.header, messages, enc.end()


def offline_logits(header: bytes, messages: list[bytes], end: bytes) -> np.ndarray:
    """The offline cloud half's logits for a stream: spikecodec.models.coinference.cloud_logits
    over the same messages as one spike file, as `spikecodec cloud` reads it."""
    from spikecodec.models.coinference import cloud_logits

    return cloud_logits(header + b"".join(messages) + end).float().numpy()


def masked_frame(payload: bytes, declared: int | None = None) -> bytes:
    """A client's binary WebSocket frame of ``payload`` (its length field says ``declared``)."""
    n = len(payload) if declared is None else declared
    head = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_stream(address: str, start: tuple[bytes, bytes]) -> tuple[socket.socket, bytes]:
    """A TCP connection past the WebSocket upgrade that has sent ``start`` (the hello and the header
    frames), and what came after the upgrade's answer."""
    sock, after = upgraded(address)
    sock.sendall(masked_frame(start[0]) + masked_frame(start[1]))
    return sock, after


def read_to_the_end(sock: socket.socket, data: bytes = b"") -> bytes:
    """``data`` and all the server sends until it closes the connection."""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk


def upgraded(address: str) -> tuple[socket.socket, bytes]:
    """A TCP connection past the WebSocket upgrade, and what came after the upgrade's answer."""
    host, port = address.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {P.PATH} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the connection during the upgrade: {got!r}"
        got += chunk
    assert b" 101 " in got.split(b"\r\n")[0]
    return sock, got.split(b"\r\n\r\n", 1)[1]

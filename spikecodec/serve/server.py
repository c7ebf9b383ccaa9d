"""The cloud half as a network service: an ASGI app (Starlette) served by uvicorn.

Why this stack: the link is a long-lived, ordered, two-way stream of small binary messages, which
is what a WebSocket is: frames keep the messages' boundaries (no framing of our own), one
connection carries a client's images and its answers in both directions, and TLS, the HTTP
upgrade, pings and flow control come with uvicorn, a widely used ASGI server (its WebSocket
protocol pauses reading a socket until the app has taken the last frame, so backpressure reaches
the client through TCP). Starlette gives the routes (the stream, ``/healthz``, ``/metrics``) and
an app that tests can run in-process. gRPC bidirectional streaming would do as well, at the
cost of protobuf code generation and a heavier dependency for what is here a byte string each
way. ``prometheus_client`` writes the Prometheus text format. Ray Serve is not used here.

Per stream: a hello (authenticated with :func:`hmac.compare_digest` before any model work),
the header message (its declared frame shape must be the model's code shape), then images,
each answered in the client's order (:mod:`spikecodec.serve.protocol`, docs/serve.md). Images
of all streams go through the cloud half together (:mod:`spikecodec.serve.batcher`). A stream
that breaks a rule is closed with a close code and a reason; nothing it sends reaches another
stream's state. On SIGTERM (:func:`run_server`) the server stops reading new images, answers
those in flight, closes each stream with code 1001, then exits.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import logging
import math
import socket
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Sequence

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from ..errors import FormatError, LimitError
from ..limits import ReadLimits
from . import protocol as P
from .batcher import Batcher
from .metrics import Metrics

log = logging.getLogger("spikecodec.serve")

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class ServeConfig:
    """What a server runs and the limits it enforces."""

    model: str | None = None  # a shipped model; None: the default reference
    tokens: Sequence[str] | None = None  # accepted tokens; None: no authentication (loopback only)
    max_batch: int = 64  # most images the cloud half runs at once
    max_wait_ms: float = 5.0  # longest an image waits for its batch to fill
    max_queue: int = 4096  # images waiting for the cloud half, all streams together
    window: int = 64  # images in flight per stream; past it the server stops reading that stream
    max_message_bytes: int = 4096  # an image's chunk message (a coded image is ~30 bytes)
    max_header_bytes: int = 65536  # the header message (a header is a few hundred bytes; no embedded prior)
    max_streams_per_client: int = 64  # open streams per token (per address without tokens)
    idle_timeout: float = 30.0  # a stream with nothing in flight that sends no whole frame for this long is closed
    handshake_timeout: float = 10.0  # for the hello and the header
    drain_timeout: float = 30.0  # on SIGTERM, longest wait for in-flight images
    torch_threads: int | None = None  # torch's intra-op threads for the cloud half (None: torch's default)


class ClientGone(Exception):
    """The client's connection ended (``code`` as it said, 1006 when it just vanished)."""

    def __init__(self, code: int | None):
        self.code = code or 1006
        super().__init__(f"client disconnected (code {self.code})")


class Session:
    """One stream: its decoder (used only in the worker thread, in arrival order) and what is in
    flight (image id, future, time received), answered in that order."""

    def __init__(self, decoder: Any, client: str, window: int):
        self.decoder = decoder
        self.client = client
        self.failed = False  # a message did not decode: the stream's later messages are not decoded
        self.gone = False
        self.in_flight: collections.deque[tuple[int, asyncio.Future, float]] = collections.deque()
        self.added = asyncio.Event()
        self.window = asyncio.Semaphore(window)
        self.reading_done = False
        self.reader_task: asyncio.Task | None = None


class CloudService:
    """The state behind the app: the model, the batcher, the open streams and the metrics."""

    def __init__(self, config: ServeConfig):
        import torch

        from ..models.coinference import EDGE_AXES, load_split, shipped_prior

        self.config = config
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)
        self.net, self.info = load_split(config.model)
        self.axes = EDGE_AXES
        self.prior = shipped_prior(self.info["model"])
        # One message is one image: a message that would decode to more is refused before decoding.
        self.limits = ReadLimits(max_bytes=math.prod(self.info["code_shape"]))
        self.tokens = [t.encode() for t in config.tokens] if config.tokens is not None else None
        self.metrics = Metrics()
        self.batcher: Batcher | None = None
        self.draining = False
        self.streams: set[Session] = set()
        self.per_client: collections.Counter[str] = collections.Counter()
        self.classes = 0

    # -- model work (worker thread) ---------------------------------------------------------

    def warm_up(self) -> None:
        """Decode one image's message and run the cloud half once, so the first client does not
        wait for compilation and the class count is known."""
        from ..container.link import LinkEncoder

        enc = LinkEncoder(self.info["code_shape"], prior=self.prior, metadata=self.info)
        decoder = self.open_decoder(enc.header)
        frames = decoder.link.decode(enc.encode(np.zeros(self.info["code_shape"], np.uint8)))
        self.classes = int(decoder.run(frames).shape[1])

    def work(self, items: list[tuple[Session, int, bytes]]) -> list[Any]:
        """Per item: (class, logits), a ProtocolError for a message that does not decode, or None
        for a stream that failed or went away. Runs in the worker thread."""
        results: list[Any] = [None] * len(items)
        frames, where, decoder = [], [], None
        for k, (session, image_id, message) in enumerate(items):
            if session.failed or session.gone:
                continue
            try:
                f = session.decoder.link.decode(message)
                if f.shape[0] != 1:
                    raise FormatError(f"the message holds {f.shape[0]} images; one image per message", code="message-size")
            except LimitError:
                session.failed = True
                results[k] = P.ProtocolError(P.BAD_MESSAGE, f"image {image_id}: the message decodes to more than one image; one image per message")
                continue
            except FormatError as exc:
                session.failed = True
                results[k] = P.ProtocolError(P.BAD_MESSAGE, f"image {image_id}: bad message: {exc.message}")
                continue
            frames.append(f)
            where.append(k)
            decoder = session.decoder
        if frames:
            logits = decoder.run(np.concatenate(frames)).float().numpy()
            classes = logits.argmax(1)
            for j, k in enumerate(where):
                results[k] = (int(classes[j]), logits[j])
        return results

    # -- streams (event loop) ---------------------------------------------------------------

    def authenticate(self, hello: P.Hello, peer: str) -> str:
        """The client's identity (which token; its address when there are no tokens), or
        UNAUTHORIZED. Every token is compared, in constant time."""
        if self.tokens is None:
            return f"address {peer}"
        if not hello.token:
            raise P.ProtocolError(P.UNAUTHORIZED, "no token: this server needs one")
        given = hello.token.encode()
        match = None
        for i, token in enumerate(self.tokens):
            if hmac.compare_digest(given, token) and match is None:
                match = i
        if match is None:
            raise P.ProtocolError(P.UNAUTHORIZED, "wrong token")
        return f"token {match}"

    def check_model(self, hello: P.Hello) -> None:
        served = self.info["model"]
        if hello.model != served:
            raise P.ProtocolError(P.WRONG_MODEL, f"this server runs model {served!r}, not {hello.model!r}")
        if hello.prior is not None and (self.prior is None or hello.prior != self.prior.digest):
            have = self.prior.digest[:12] if self.prior is not None else "none"
            raise P.ProtocolError(P.WRONG_MODEL, f"prior {hello.prior[:12]} is not served here (the model's prior: {have}, or none)")

    def open_decoder(self, header: bytes, hello: P.Hello | None = None) -> Any:
        """The stream's decoder, or BAD_HEADER / BAD_SHAPE saying why its header is refused."""
        from ..models.coinference import CloudDecoder

        try:
            decoder = CloudDecoder(header, self.info["model"], priors=[self.prior] if self.prior else None, limits=self.limits)
        except FormatError as exc:
            raise P.ProtocolError(P.BAD_HEADER, f"bad header message: {exc.message}") from None
        except ValueError as exc:  # spikes not shaped like the model's code
            raise P.ProtocolError(P.BAD_SHAPE, str(exc)) from None
        if decoder.link.axes != self.axes:
            raise P.ProtocolError(P.BAD_SHAPE, f"axes {''.join(decoder.link.axes)}; the server takes {''.join(self.axes)} streams")
        named = getattr(decoder.link.header.pipeline().array_codec, "prior_id", None) or None
        if hello is not None and named != hello.prior:
            raise P.ProtocolError(P.BAD_HEADER, f"the header names prior {str(named)[:12]}, the hello {str(hello.prior)[:12]}")
        return decoder

    async def stream(self, ws: WebSocket) -> None:
        """One client's stream, from the hello to the close."""
        await ws.accept()
        client = None
        session = None
        try:
            hello = P.Hello.parse(await self._receive(ws, P.HELLO_MAX_BYTES, self.config.handshake_timeout, "hello"))
            who = self.authenticate(hello, ws.client.host if ws.client else "?")
            self.check_model(hello)
            if self.per_client[who] >= self.config.max_streams_per_client:
                raise P.ProtocolError(P.TOO_MANY_STREAMS, f"{self.config.max_streams_per_client} streams already open for this client")
            client = who
            self.per_client[client] += 1
            header = await self._receive(ws, self.config.max_header_bytes, self.config.handshake_timeout, "header message")
            if self.draining:
                raise P.ProtocolError(P.GOING_AWAY, "server shutting down: no new streams")
            session = Session(self.open_decoder(header, hello), client, self.config.window)
            self.metrics.streams_opened.inc()
            self.streams.add(session)  # before any await: a drain from now on waits for this stream
            self.metrics.streams.inc()
            await ws.send_bytes(P.encode_ready(self.ready_info()))
            await self._serve(ws, session)
        except P.ProtocolError as exc:
            if exc.code != P.GOING_AWAY:
                self.metrics.errors.labels(exc.kind).inc()
            await self._close(ws, exc.code, exc.reason)
        except ClientGone as exc:
            if exc.code not in (P.NORMAL, P.GOING_AWAY):
                self.metrics.errors.labels("disconnected").inc()
        except Exception:
            log.exception("stream failed")
            self.metrics.errors.labels("internal").inc()
            await self._close(ws, P.INTERNAL, "internal error")
        finally:
            if session is not None:
                session.gone = True
                if session in self.streams:
                    self.streams.discard(session)
                    self.metrics.streams.dec()
            if client is not None:
                self.per_client[client] -= 1
                if not self.per_client[client]:
                    del self.per_client[client]

    def ready_info(self) -> dict[str, Any]:
        return {"model": self.info["model"], "code_shape": self.info["code_shape"], "classes": self.classes,
                "prior": self.prior.digest if self.prior else None, "max_message_bytes": self.config.max_message_bytes,
                "window": self.config.window}

    async def _serve(self, ws: WebSocket, session: Session) -> None:
        """Read images and write answers until the stream ends; raise what ends it."""
        reader = asyncio.create_task(self._read_images(ws, session))
        writer = asyncio.create_task(self._write_answers(ws, session))
        session.reader_task = reader
        if self.draining:  # the drain began while the stream was being accepted
            reader.cancel()
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if writer in done and writer.exception() is not None:  # a message that did not decode, or the client left
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                raise writer.exception()  # type: ignore[misc]
            end = await reader  # the writer ends by itself only once reading has
            if session.gone:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
                raise end
            await writer  # answer every image read before the stream ends
            if end is not None:
                raise end
        finally:
            for task in (reader, writer):
                task.cancel()

    async def _read_images(self, ws: WebSocket, session: Session) -> BaseException | None:
        """Read image frames into the batcher; return why reading stopped (None: it did not)."""
        cfg = self.config
        assert self.batcher is not None
        try:
            while True:
                try:
                    data = await self._receive(ws, cfg.max_message_bytes + P.ID.size, cfg.idle_timeout, "image frame")
                except P.ProtocolError as exc:
                    if exc.code == P.TIMEOUT and session.in_flight:  # waiting for answers is not idling
                        continue
                    raise
                image_id, message = P.parse_image(data)
                await session.window.acquire()
                received = time.monotonic()
                future = await self.batcher.submit((session, image_id, message))
                session.in_flight.append((image_id, future, received))
                session.added.set()
                self.metrics.queued.set(self.batcher.queue.qsize())
        except asyncio.CancelledError:
            if not self.draining:
                raise
            return P.ProtocolError(P.GOING_AWAY, "server shutting down: in-flight images answered, later ones refused")
        except ClientGone as exc:
            session.gone = True
            return exc
        except P.ProtocolError as exc:
            return exc
        finally:
            session.reading_done = True
            session.added.set()

    async def _write_answers(self, ws: WebSocket, session: Session) -> None:
        """Send answers in the order the images came, several per frame when several are ready."""
        queue = session.in_flight
        while True:
            while not queue:
                if session.reading_done:
                    return
                session.added.clear()
                await session.added.wait()
            await asyncio.wait([queue[0][1]])
            ids, classes, logits, received = [], [], [], []
            failure = None
            while queue and queue[0][1].done():
                image_id, future, t0 = queue.popleft()
                session.window.release()
                result = future.result()  # an exception here is a bug in the work: the stream fails
                if isinstance(result, P.ProtocolError):
                    failure = result
                    break
                if result is None:
                    continue
                ids.append(image_id)
                classes.append(result[0])
                logits.append(result[1])
                received.append(t0)
            if ids:
                try:
                    await ws.send_bytes(P.encode_answers(ids, np.array(classes), np.stack(logits)))
                except (OSError, RuntimeError) as exc:  # the connection is gone
                    session.gone = True
                    raise ClientGone(None) from exc
                now = time.monotonic()
                self.metrics.images.inc(len(ids))
                for t0 in received:
                    self.metrics.latency.observe(now - t0)
            if failure is not None:
                raise failure

    async def _receive(self, ws: WebSocket, limit: int, timeout: float, what: str) -> bytes:
        """The next binary frame, at most ``limit`` bytes, within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                message = await ws.receive()
        except TimeoutError:
            raise P.ProtocolError(P.TIMEOUT, f"no whole {what} within {timeout:g} s") from None
        if message["type"] == "websocket.disconnect":
            raise ClientGone(message.get("code"))
        data = message.get("bytes")
        if data is None:
            raise P.ProtocolError(P.PROTOCOL, "a text frame: the protocol's frames are binary")
        if len(data) > limit:
            raise P.ProtocolError(P.TOO_BIG, f"the {what} is {len(data)} bytes; at most {limit}")
        return data

    @staticmethod
    async def _close(ws: WebSocket, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # the client may already be gone
            await ws.close(code, P.short_reason(reason))

    async def drain(self, timeout: float) -> None:
        """Refuse new streams and images, answer those in flight, wait (at most ``timeout``
        seconds) until every stream has closed."""
        self.draining = True
        for session in list(self.streams):
            if session.reader_task is not None:
                session.reader_task.cancel()
        deadline = time.monotonic() + timeout
        while self.streams and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    # -- HTTP -------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        body = {"status": "draining" if self.draining else "ok", "model": self.info["model"], "streams": len(self.streams),
                "queued": self.batcher.queue.qsize() if self.batcher else 0}
        return JSONResponse(body, status_code=503 if self.draining else 200)

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        def on_batch(size: int) -> None:
            self.metrics.batches.inc()
            self.metrics.batch_size.observe(size)
            self.metrics.queued.set(self.batcher.queue.qsize() if self.batcher else 0)

        self.batcher = Batcher(self.work, max_batch=self.config.max_batch, max_wait=self.config.max_wait_ms / 1000,
                               max_queue=self.config.max_queue, on_batch=on_batch)
        await asyncio.get_running_loop().run_in_executor(self.batcher.executor, self.warm_up)
        task = asyncio.create_task(self.batcher.run())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.batcher.close()


def create_app(config: ServeConfig) -> tuple[Starlette, CloudService]:
    """The ASGI app (``/v1/stream``, ``/healthz``, ``/metrics``) and the service behind it; the
    model loads now, the batcher starts with the app's lifespan."""
    service = CloudService(config)
    app = Starlette(routes=[WebSocketRoute(P.PATH, service.stream), Route("/healthz", service.healthz),
                            Route("/metrics", service.metrics_text)], lifespan=service.lifespan)
    return app, service


def uvicorn_config(app: Starlette, config: ServeConfig, host: str, port: int, *, tls_cert: str | None = None,
                   tls_key: str | None = None, log_level: str = "warning") -> Any:
    """uvicorn's settings for the app: its WebSocket frames capped at the largest message the
    protocol allows, TLS when given a certificate."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, ws="websockets-sansio", lifespan="on", log_level=log_level,
                          ws_max_size=max(config.max_header_bytes, config.max_message_bytes + P.ID.size, P.HELLO_MAX_BYTES),
                          ssl_certfile=tls_cert, ssl_keyfile=tls_key, timeout_graceful_shutdown=5)


def draining_server(uv_config: Any, service: CloudService) -> Any:
    """A uvicorn server whose first SIGTERM or SIGINT drains the service (in-flight images
    answered, new ones refused) before it stops; a second one stops it at once."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        loop: asyncio.AbstractEventLoop | None = None
        draining = False

        async def startup(self, sockets: Any = None) -> None:
            self.loop = asyncio.get_running_loop()
            await super().startup(sockets=sockets)

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.draining or self.loop is None:
                return super().handle_exit(sig, frame)
            self.draining = True
            self.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self.drain_then_exit()))

        async def drain_then_exit(self) -> None:
            await service.drain(service.config.drain_timeout)
            self.should_exit = True

    return DrainingServer(uv_config)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port): binding here, not in uvicorn, makes a taken port an
    OSError for the caller (uvicorn logs it and exits)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run_server(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000, *, tls_cert: str | None = None,
               tls_key: str | None = None, log_level: str = "warning") -> None:
    """Serve until SIGTERM / SIGINT (then drain and stop). OSError when (host, port) cannot be bound."""
    sock = listen(host, port)
    try:
        app, service = create_app(config)
        uv = uvicorn_config(app, config, host, port, tls_cert=tls_cert, tls_key=tls_key, log_level=log_level)
        draining_server(uv, service).run(sockets=[sock])
    finally:
        sock.close()

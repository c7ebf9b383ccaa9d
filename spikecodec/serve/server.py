"""The cloud half as a network service: an ASGI app (Starlette) served by uvicorn.

Why this stack: the link is a long-lived, ordered, two-way stream of small binary messages, which
is what a WebSocket is: frames keep the messages' boundaries (no framing of our own), one
connection carries a client's images and its answers in both directions, and TLS, the HTTP
upgrade, pings and flow control come with uvicorn, a widely used ASGI server (its WebSocket
protocol pauses reading a socket until the app has taken the last frame, so backpressure reaches
the client through TCP). Starlette gives the routes (the stream, ``/healthz``, ``/metrics``) and
an app that tests can run in-process. gRPC bidirectional streaming would do as well, at the
cost of protobuf code generation and a heavier dependency for what is here a byte string each
way. ``prometheus_client`` writes the Prometheus text format. Scale-out over a cluster of
machines is :mod:`spikecodec.serve.ray_app` (Ray Serve), not this server.

Two kinds of process: this one runs the event loop (frames, auth, limits, batching, routing the
answers) and imports no torch itself; the model work (each stream's stateful link decoder and the
cloud half) runs in model worker processes (:mod:`spikecodec.serve.worker`), fed one blob per
batch over a socket pair, so the two no longer take turns on one GIL. A stream stays on one
worker. A worker that dies is reported (a one-line log error, ``/healthz`` 503 ``error``) and
every stream is closed with 1011 and the reason; the workers end with the server, also when it
is killed.

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
import functools
import hmac
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import protocol as P
from .batcher import Batcher
from .metrics import Metrics
from .worker import OK, OPEN_ANSWER, REFUSED, U32, WorkerError, WorkerLink, pack_batch, unpack_results

log = logging.getLogger("spikecodec.serve")

LOOPBACK = ("127.0.0.1", "::1", "localhost")
WORKERS_ENV = "SPIKECODEC_SERVE_WORKERS"  # the worker count when ServeConfig.workers is None
NO_NEW_STREAMS = "server shutting down: no new streams"  # the reason of a 1001 before a stream began


def default_workers() -> int:
    """Model worker processes when none are configured: $SPIKECODEC_SERVE_WORKERS, else 1 on up to
    2 cores and 2 on more. A worker spends about five times the event loop's CPU per image and
    runs on two threads (decoding beside the cloud half), so on 2 cores one worker already uses
    what the event loop (and, in the benchmark, the clients) leave; a second one there adds
    processes, not cores (benchmarks/results/serve.md has a row of each)."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return 2 if (os.cpu_count() or 1) > 2 else 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{WORKERS_ENV}={value!r}: expected a positive number of worker processes")
    return int(value)


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
    max_connections: int = 4096  # open connections, all clients together (keep the process's file limit above it)
    idle_timeout: float = 30.0  # a stream with nothing in flight that sends no whole frame for this long is closed;
    # a connection that reads nothing of what the server has to write for this long is cut
    handshake_timeout: float = 10.0  # for a request (the WebSocket upgrade), then for the hello and the header
    drain_timeout: float = 30.0  # on SIGTERM, longest wait for in-flight images
    torch_threads: int | None = None  # torch's intra-op threads for the cloud half, per worker (None: torch's default)
    workers: int | None = None  # model worker processes, each with its own streams (None: default_workers())


class ClientGone(Exception):
    """The client's connection ended (``code`` as it said, 1006 when it just vanished)."""

    def __init__(self, code: int | None):
        self.code = code or 1006
        super().__init__(f"client disconnected (code {self.code})")


class Session:
    """One stream: its id at the worker (which holds its decoder) and what is in flight, answered
    in the order received."""

    __slots__ = ("sid", "shard", "client", "gone", "in_flight", "added", "window", "reading_done", "reader_task",
                 "receiving", "last_frame", "timed_out")

    def __init__(self, sid: int, shard: "Shard", client: str, window: int):
        self.sid = sid
        self.shard = shard
        self.client = client
        self.gone = False
        self.in_flight: collections.deque[Entry] = collections.deque()
        self.added = asyncio.Event()  # set when answers arrive or reading ends: the writer has work
        self.window = asyncio.Semaphore(window)
        self.reading_done = False
        self.reader_task: asyncio.Task | None = None
        self.receiving = False  # the reader waits for the client's next frame
        self.last_frame = time.monotonic()  # when the last whole frame came (or reading began)
        self.timed_out = False


PENDING = object()  # an entry's result before its batch is back
SKIPPED = object()  # its stream failed at an earlier image: not answered


class Entry:
    """One image in flight: its stream, id, chunk message, when it was read, and its result
    (PENDING, (class, logits), a ProtocolError, or SKIPPED)."""

    __slots__ = ("session", "image_id", "message", "received", "result")

    def __init__(self, session: Session, image_id: int, message: bytes, received: float):
        self.session = session
        self.image_id = image_id
        self.message = message
        self.received = received
        self.result: Any = PENDING


class Shard:
    """One model worker process and the batcher feeding it; a stream stays on one shard (its
    decoder lives in that worker)."""

    def __init__(self, worker: WorkerLink):
        self.worker = worker
        self.batcher: Batcher | None = None
        self.streams = 0


class CloudService:
    """The state behind the app: the model worker, the batcher, the open streams and the metrics.
    The model loads now, in the worker process (:mod:`spikecodec.serve.worker`); on Linux the
    worker is killed if the thread that creates the service ends before the service is stopped."""

    def __init__(self, config: ServeConfig):
        self.config = config
        n = config.workers if config.workers is not None else default_workers()
        if n < 1:
            raise ValueError(f"workers: expected a positive number of worker processes, got {n}")
        self.shards = [Shard(WorkerLink(config.model, config.torch_threads)) for _ in range(n)]
        try:
            for shard in self.shards:  # all load the model at once
                shard.worker.spawn()
            info = [shard.worker.wait_ready() for shard in self.shards][0]
        except BaseException:
            for shard in self.shards:
                shard.worker.stop()
            raise
        self.info = {"model": info["model"], "code_shape": tuple(info["code_shape"])}
        self.prior_digest: str | None = info["prior"]
        self.classes = int(info["classes"])
        self.tokens = [t.encode() for t in config.tokens] if config.tokens is not None else None
        self.metrics = Metrics()
        self.draining = False
        self.broken: str | None = None  # why the model worker is gone
        self.streams: set[Session] = set()
        self.handshaking: set[asyncio.Task[Any]] = set()  # connections before their ready frame: a drain closes them with 1001
        self.per_client: collections.Counter[str] = collections.Counter()
        self.next_sid = 0

    # -- model work (in the worker process) -------------------------------------------------

    def dispatch(self, batch: list[Entry]) -> Awaitable[None]:
        """Send a batch to its shard's worker now, as one blob; the awaitable delivers its results."""
        kept = [e for e in batch if not e.session.gone]  # a stream that went away: its images are not run
        if not kept:
            return asyncio.sleep(0)
        worker = kept[0].session.shard.worker
        done = worker.request(b"B", pack_batch([e.session.sid for e in kept], [e.message for e in kept]))
        return self._deliver(kept, done)

    async def _deliver(self, kept: list[Entry], done: asyncio.Future) -> None:
        try:
            status, logits, refused = unpack_results(await done, self.classes)
        except WorkerError as exc:
            failure = P.ProtocolError(P.INTERNAL, str(exc))
            for e in kept:
                e.result = failure
        else:
            classes = logits.argmax(1).tolist()
            j = 0
            for k, (e, st) in enumerate(zip(kept, status)):
                if st == OK:
                    e.result = (classes[j], logits[j])
                    j += 1
                elif st == REFUSED:
                    code, reason = refused[k]
                    e.result = P.ProtocolError(code, f"image {e.image_id}: {reason}")
                else:
                    e.result = SKIPPED
        for session in {e.session for e in kept}:
            session.added.set()

    def worker_failed(self, reason: str) -> None:
        """A worker is gone: say so once, end every stream (1011), refuse new ones."""
        if self.broken is not None:
            return
        self.broken = reason
        log.error("spikecodec serve: %s; streams are refused until the server restarts", reason)
        for session in list(self.streams):
            if session.reader_task is not None:
                session.reader_task.cancel()

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
        if hello.prior is not None and hello.prior != self.prior_digest:
            have = self.prior_digest if self.prior_digest is not None else "none"
            raise P.ProtocolError(P.WRONG_MODEL, f"prior {hello.prior[:80]!r} is not served here (the model's prior: {have}, "
                                  "its whole digest in lowercase hex, or none)")

    async def open_stream(self, header: bytes, hello: P.Hello, client: str) -> Session:
        """A session whose decoder the worker has made from ``header``, or BAD_HEADER / BAD_SHAPE
        saying why the header is refused."""
        sid = self.next_sid
        self.next_sid = (sid + 1) & 0xFFFFFFFF
        shard = min(self.shards, key=lambda s: s.streams)  # the worker with the fewest streams
        try:
            answer = await shard.worker.request(b"O", U32.pack(sid) + header)
        except WorkerError as exc:
            raise P.ProtocolError(P.INTERNAL, str(exc)) from None
        _, code = OPEN_ANSWER.unpack_from(answer)
        text = answer[OPEN_ANSWER.size :].decode()
        if code:
            raise P.ProtocolError(code, text)
        named = text or None  # the prior the header's codec names
        if named != hello.prior:
            shard.worker.tell(b"C", U32.pack(sid))
            raise P.ProtocolError(P.BAD_HEADER, f"the header names prior {str(named)[:12]}, the hello {str(hello.prior)[:12]}")
        shard.streams += 1
        return Session(sid, shard, client, self.config.window)

    async def stream(self, ws: WebSocket) -> None:
        """One client's stream, from the hello to the close."""
        await ws.accept()
        client = None  # the identity once its stream is counted against it
        who = None  # the identity once the hello is authenticated (for the log of a refusal)
        session = None
        task = asyncio.current_task()
        assert task is not None
        self.handshaking.add(task)
        # One handshake_timeout for the hello and the header together (each had its own: 20 s in all).
        handshake_ends = asyncio.get_running_loop().time() + self.config.handshake_timeout
        try:
            if self.draining:
                raise P.ProtocolError(P.GOING_AWAY, NO_NEW_STREAMS)
            hello = P.Hello.parse(await self._receive(ws, P.HELLO_MAX_BYTES, self.config.handshake_timeout, "hello"))
            who = self.authenticate(hello, ws.client.host if ws.client else "?")
            if self.broken is not None:
                raise P.ProtocolError(P.INTERNAL, self.broken)
            self.check_model(hello)
            if self.per_client[who] >= self.config.max_streams_per_client:
                raise P.ProtocolError(P.TOO_MANY_STREAMS, f"{self.config.max_streams_per_client} streams already open for this client")
            client = who
            self.per_client[client] += 1
            header = await self._receive(ws, self.config.max_header_bytes,
                                         max(0.0, handshake_ends - asyncio.get_running_loop().time()), "header message",
                                         said=f"{self.config.handshake_timeout:g} s of connecting")
            self.handshaking.discard(task)  # from here a drain is seen by the checks below (the worker may be opening its stream)
            if self.draining:
                raise P.ProtocolError(P.GOING_AWAY, NO_NEW_STREAMS)
            session = await self.open_stream(header, hello, client)
            if self.draining or self.broken is not None:  # began while the worker opened the stream
                raise P.ProtocolError(P.GOING_AWAY, NO_NEW_STREAMS) if self.draining else P.ProtocolError(P.INTERNAL, self.broken or "")
            self.metrics.streams_opened.inc()
            self.streams.add(session)  # before any await: a drain from now on waits for this stream
            self.metrics.streams.inc()
            await self._send(ws, P.encode_ready(self.ready_info()))
            await self._serve(ws, session)
        except P.ProtocolError as exc:
            self.handshaking.discard(task)  # refused: its close is not cancelled by a drain
            if exc.code != P.GOING_AWAY:
                self.metrics.errors.labels(exc.kind).inc()
                peer = f"{ws.client.host}:{ws.client.port}" if ws.client else "?"  # one line a refused client; its own text escaped and cut
                log.warning("spikecodec serve: %s (%s) refused: %d %s: %s", peer, who or "not authenticated",
                            exc.code, exc.kind, ascii(exc.reason[:200])[1:-1])
            await self._close(ws, exc.code, exc.reason)
        except ClientGone as exc:
            if exc.code not in (P.NORMAL, P.GOING_AWAY):
                self.metrics.errors.labels("disconnected").inc()
        except asyncio.CancelledError:
            if not (self.draining and task in self.handshaking):
                raise
            # The drain cancelled a handshake (the hello or the header awaited): closed as a stream
            # is, 1001 with the reason, where uvicorn's shutdown closed it 1012 without one.
            task.uncancel()
            await self._close(ws, P.GOING_AWAY, NO_NEW_STREAMS)
        except Exception:
            log.exception("stream failed")
            self.metrics.errors.labels("internal").inc()
            await self._close(ws, P.INTERNAL, "internal error")
        finally:
            self.handshaking.discard(task)
            if session is not None:
                session.gone = True
                session.shard.worker.tell(b"C", U32.pack(session.sid))  # the worker drops its decoder
                session.shard.streams -= 1
                if session in self.streams:
                    self.streams.discard(session)
                    self.metrics.streams.dec()
            if client is not None:
                self.per_client[client] -= 1
                if not self.per_client[client]:
                    del self.per_client[client]

    def ready_info(self) -> dict[str, Any]:
        return {"model": self.info["model"], "code_shape": self.info["code_shape"], "classes": self.classes,
                "prior": self.prior_digest, "max_message_bytes": self.config.max_message_bytes,
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

    def _watch_idle(self, session: Session) -> None:
        """The idle timeout of a stream's images, checked by one timer per stream rather than a
        timeout around each frame's receive (that costs the event loop a timer per image): a
        stream that has waited ``idle_timeout`` for its next frame with nothing in flight is
        closed (TIMEOUT); waiting for answers is not idling."""
        loop = asyncio.get_running_loop()
        limit = self.config.idle_timeout

        def check() -> None:
            task = session.reader_task
            if task is None or task.done():
                return
            now = time.monotonic()
            due = session.last_frame + limit
            if now < due:
                loop.call_later(due - now, check)
            elif session.receiving and not session.in_flight:
                session.timed_out = True
                task.cancel()
            else:  # answers are pending, or the reader is held by backpressure: a full period more
                session.last_frame = now
                loop.call_later(limit, check)

        loop.call_later(limit, check)

    async def _read_images(self, ws: WebSocket, session: Session) -> BaseException | None:
        """Read image frames into the batcher; return why reading stopped (None: it did not)."""
        cfg = self.config
        batcher = session.shard.batcher
        assert batcher is not None
        receive = ws.receive
        limit = cfg.max_message_bytes + P.ID.size
        session.last_frame = time.monotonic()
        self._watch_idle(session)
        try:
            while True:
                session.receiving = True
                data = self._frame(await receive(), limit, "image frame")
                session.receiving = False
                session.last_frame = now = time.monotonic()
                image_id, message = P.parse_image(data)
                await session.window.acquire()
                entry = Entry(session, image_id, message, now)
                await batcher.submit(entry, session.sid)
                # Not a reason to wake the writer: it waits for the oldest image's answer, and
                # the batch that brings it sets ``added``.
                session.in_flight.append(entry)
        except asyncio.CancelledError:
            if session.timed_out:
                return P.ProtocolError(P.TIMEOUT, f"no whole image frame within {cfg.idle_timeout:g} s")
            if self.broken is not None:
                return P.ProtocolError(P.INTERNAL, self.broken)
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
            while not queue or queue[0].result is PENDING:
                if not queue and session.reading_done:
                    return
                session.added.clear()
                await session.added.wait()
            ids, classes, logits, received = [], [], [], []
            failure = None
            while queue and queue[0].result is not PENDING:
                entry = queue.popleft()
                session.window.release()
                result = entry.result
                if result is SKIPPED:
                    continue
                if isinstance(result, P.ProtocolError):
                    failure = result
                    break
                ids.append(entry.image_id)
                classes.append(result[0])
                logits.append(result[1])
                received.append(entry.received)
            if ids:
                try:
                    await self._send(ws, P.encode_answers(ids, np.array(classes), np.stack(logits)))
                except ClientGone:
                    session.gone = True
                    raise
                now = time.monotonic()
                self.metrics.images.inc(len(ids))
                self.metrics.observe_latencies(now, received)
            if failure is not None:
                raise failure

    @staticmethod
    async def _send(ws: WebSocket, data: bytes) -> None:
        """Send a binary frame; ClientGone when the connection is gone (uvicorn's OSError comes
        through Starlette as WebSocketDisconnect)."""
        try:
            await ws.send_bytes(data)
        except (OSError, RuntimeError, WebSocketDisconnect) as exc:
            raise ClientGone(None) from exc

    async def _receive(self, ws: WebSocket, limit: int, timeout: float, what: str, said: str | None = None) -> bytes:
        """The next binary frame, at most ``limit`` bytes, within ``timeout`` seconds (``said``:
        how the refusal names that time, else "``timeout`` s")."""
        try:
            async with asyncio.timeout(timeout):
                message = await ws.receive()
        except TimeoutError:
            raise P.ProtocolError(P.TIMEOUT, f"no whole {what} within {said or f'{timeout:g} s'}") from None
        return self._frame(message, limit, what)

    @staticmethod
    def _frame(message: dict[str, Any], limit: int, what: str) -> bytes:
        """The bytes of a received ASGI message: ClientGone, or PROTOCOL / TOO_BIG, when it is not
        a binary frame of at most ``limit`` bytes."""
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
        for task in list(self.handshaking):  # closed with 1001 (stream, above), not left to uvicorn's 1012
            task.cancel()
        for session in list(self.streams):
            if session.reader_task is not None:
                session.reader_task.cancel()
        deadline = time.monotonic() + timeout
        while self.streams and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    # -- HTTP -------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        status = "error" if self.broken is not None else "draining" if self.draining else "ok"
        body = {"status": status, "model": self.info["model"], "streams": len(self.streams),
                "queued": self.queued()}
        if self.broken is not None:
            body["error"] = self.broken
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    def queued(self) -> int:
        """Images waiting for a worker, all shards together."""
        return sum(shard.batcher.waiting for shard in self.shards if shard.batcher is not None)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        def on_batch(size: int) -> None:
            self.metrics.batches.inc()
            self.metrics.batch_size.observe(size)
            self.metrics.queued.set(self.queued())

        tasks = []
        for shard in self.shards:
            shard.batcher = Batcher(self.dispatch, max_batch=self.config.max_batch, max_wait=self.config.max_wait_ms / 1000,
                                    max_queue=max(1, self.config.max_queue // len(self.shards)), on_batch=on_batch)
            shard.worker.on_failure = self.worker_failed
            await shard.worker.connect()
            tasks.append(asyncio.create_task(shard.batcher.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for shard in self.shards:
                assert shard.batcher is not None
                await shard.batcher.close()
            for shard in self.shards:
                shard.worker.close()
            await asyncio.gather(*(asyncio.to_thread(shard.worker.stop) for shard in self.shards))


def create_app(config: ServeConfig) -> tuple[Starlette, CloudService]:
    """The ASGI app (``/v1/stream``, ``/healthz``, ``/metrics``) and the service behind it; the
    model worker starts and loads the model now (WorkerError, one line, if it cannot), the batcher
    starts with the app's lifespan and the worker stops with it."""
    service = CloudService(config)
    app = Starlette(routes=[WebSocketRoute(P.PATH, service.stream), Route("/healthz", service.healthz),
                            Route("/metrics", service.metrics_text)], lifespan=service.lifespan)
    return app, service


FRAGMENTS_MAX = 1024  # frames of one WebSocket message (a client library sends one)
CONTROLS_MAX = 256  # pings and pongs a client may send ...
CONTROLS_SECONDS = 10.0  # ... in this long (keepalive sends one every 20 s)
HEAD_MAX_BYTES = 16 << 10  # an HTTP request's line and headers (a WebSocket upgrade needs under 1 KiB)
BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 29\r\nconnection: close\r\n\r\ntoo many connections, retry\r\n"


def guarded_protocols(config: ServeConfig) -> tuple[type, type]:
    """uvicorn's HTTP and WebSocket (websockets-sansio) protocols with the per-connection limits a
    hostile client calls for and uvicorn lacks:

    * past ``max_connections`` open connections a new one is answered 503 and closed (uvicorn's
      ``limit_concurrency`` answers HTTP requests only, never a WebSocket upgrade);
    * a connection that has sent no whole request (the WebSocket upgrade included) within
      ``handshake_timeout`` seconds of connecting, or of its last answer, is closed: uvicorn
      waits for ever, so a few thousand silent connections took every file descriptor (slowloris);
    * a WebSocket peer that does not read what the server writes is not read either: each ping is
      answered with a pong whatever the buffer holds, so a client that sent pings and never read
      grew the server's buffer without bound;
    * a frame (an answer, a close) that cannot be written for ``idle_timeout`` seconds because
      the peer reads nothing ends the connection: a close frame could not reach it, and the
      stream was held for ever;
    * HTTP is parsed by h11, never httptools (uvicorn's choice when it is installed): httptools
      caps neither a request's head - one request of 1.9 GB of headers was read whole - nor the
      requests a client pipelines without reading the answers (50 bytes of memory a byte sent).
      h11 refuses a head over :data:`HEAD_MAX_BYTES` (400) and reads no further request while
      one is answered.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    request_timeout, write_timeout, most = config.handshake_timeout, config.idle_timeout, config.max_connections

    class HTTPProtocol(H11Protocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._deadline = self.loop.call_later(request_timeout, self._check_request)
            if len(self.server_state.connections) > most:  # this one counted: uvicorn caps HTTP requests, not upgrades
                log.warning("spikecodec serve: %d connections open, the most allowed (--max-connections): one refused", most)
                transport.write(BUSY)
                transport.close()

        def _check_request(self) -> None:
            transport = self.transport
            if transport.is_closing() or transport.get_protocol() is not self:  # closed, or now a WebSocket
                return
            if self.cycle is None or self.cycle.response_complete:  # no request came whole in time
                transport.close()
            else:  # a request is being answered
                self._deadline = self.loop.call_later(request_timeout, self._check_request)

        def connection_lost(self, exc: Exception | None) -> None:
            self._deadline.cancel()
            super().connection_lost(exc)

    class WebSocketProtocol(WebSocketsSansIOProtocol):
        controls = 0  # pings and pongs since controls_since
        controls_since = 0.0

        def _refuse(self, code: int, reason: str) -> None:
            """Close with ``code`` and stop reading the connection now."""
            self.frames = []
            log.warning("spikecodec serve: %s refused: %s", ":".join(map(str, self.client or ("?",))), reason)
            self.conn.send_close(code, reason)
            self.handle_parser_exception()

        # A peer flooding frames that carry nothing - a message's empty continuations, pings -
        # held the event loop, and so every stream, for as long as it sent (uvicorn keeps each
        # fragment and answers each ping; its size cap counts payload bytes only).
        def handle_cont(self, event: Any) -> None:
            if self.close_sent:
                return
            if len(self.frames) >= FRAGMENTS_MAX:
                self._refuse(1009, f"a message in more than {FRAGMENTS_MAX} frames")
                return
            super().handle_cont(event)

        def _too_many_controls(self) -> bool:
            """Count a ping or pong; past CONTROLS_MAX in CONTROLS_SECONDS, refuse the connection."""
            now = self.loop.time()
            if now - self.controls_since > CONTROLS_SECONDS:
                self.controls, self.controls_since = 0, now
            self.controls += 1
            if self.controls > CONTROLS_MAX and not self.close_sent:
                self._refuse(1008, f"more than {CONTROLS_MAX} pings and pongs in {CONTROLS_SECONDS:g} s")
                return True
            return False

        def handle_ping(self) -> None:
            if self.close_sent or self._too_many_controls():
                return
            super().handle_ping()

        def handle_pong(self, event: Any) -> None:
            if self._too_many_controls():
                return
            super().handle_pong(event)

        def send_receive_event_to_app(self) -> None:
            # A text frame that is not UTF-8: uvicorn closes with 1007 as here, but logs a
            # traceback, which any peer could make without a token, once per connection.
            if self.curr_msg_data_type == "text" and not self.close_sent:
                try:
                    b"".join(self.frames).decode()
                except UnicodeDecodeError:
                    self.frames = []
                    log.warning("spikecodec serve: %s refused: a text frame that is not UTF-8 (the protocol's frames are binary)",
                                ":".join(map(str, self.client or ("?",))))
                    self.conn.send_close(1007, "a text frame that is not UTF-8: the protocol's frames are binary")
                    self.handle_parser_exception()
                    return
            super().send_receive_event_to_app()

        def pause_writing(self) -> None:
            super().pause_writing()
            self.transport.pause_reading()

        def resume_writing(self) -> None:
            super().resume_writing()
            if not self.read_paused:  # else the app resumes reading when it takes the frame waiting
                self.transport.resume_reading()

        async def receive(self) -> Any:
            message = await super().receive()
            if not self.writable.is_set():  # uvicorn resumed reading: not while the peer reads nothing
                self.transport.pause_reading()
            return message

        async def send(self, message: Any) -> None:
            if not self.writable.is_set():
                try:
                    await asyncio.wait_for(self.writable.wait(), write_timeout)
                except TimeoutError:
                    self.transport.abort()  # connection_lost follows: the send raises ClientDisconnected
            await super().send(message)

    return HTTPProtocol, WebSocketProtocol


def uvicorn_config(app: Starlette, config: ServeConfig, host: str, port: int, *, tls_cert: str | None = None,
                   tls_key: str | None = None, log_level: str = "warning") -> Any:
    """uvicorn's settings for the app: its WebSocket frames capped at the largest message the
    protocol allows, its connections guarded (:func:`guarded_protocols`), TLS when given a
    certificate."""
    import uvicorn

    http, ws = guarded_protocols(config)
    return uvicorn.Config(app, host=host, port=port, http=http, ws=ws, lifespan="on", log_level=log_level,
                          ws_max_size=max(config.max_header_bytes, config.max_message_bytes + P.ID.size, P.HELLO_MAX_BYTES),
                          ssl_certfile=tls_cert, ssl_keyfile=tls_key, timeout_graceful_shutdown=5,
                          h11_max_incomplete_event_size=HEAD_MAX_BYTES)


def draining_server(uv_config: Any, service: CloudService) -> Any:
    """A uvicorn server whose first SIGTERM or SIGINT drains the service (in-flight images
    answered, new ones refused) before it stops; a second one stops it at once (``stopped_by``
    is then that signal)."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        loop: asyncio.AbstractEventLoop | None = None
        draining = False
        stopped_by: int | None = None

        async def startup(self, sockets: Any = None) -> None:
            self.loop = asyncio.get_running_loop()
            if self.config.ssl is None:
                await super().startup(sockets=sockets)
                return
            # uvicorn gives asyncio no TLS handshake timeout, and the protocols' guards start only
            # once a handshake has ended: a connection that never began TLS was held for asyncio's
            # default 60 s, uncounted. Its handshake now has handshake_timeout seconds, as a plain
            # connection has for its request.
            create_server = self.loop.create_server
            self.loop.create_server = functools.partial(create_server,  # type: ignore[method-assign]
                                                        ssl_handshake_timeout=service.config.handshake_timeout)
            try:
                await super().startup(sockets=sockets)
            finally:
                del self.loop.create_server  # the loop's own again

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.draining:
                # Now, without waiting for the drain; but not through uvicorn's handle_exit: it
                # raises the signal again once the server has stopped, and a second Ctrl-C ended in
                # asyncio's KeyboardInterrupt and a traceback of the lifespan task (as force_exit
                # does, which skips the lifespan's shutdown: the model workers stop there).
                self.stopped_by = sig
                self.should_exit = True
                return
            if self.loop is None:
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
               tls_key: str | None = None, log_level: str = "warning", listening: Callable[[], None] | None = None) -> int | None:
    """Serve until SIGTERM / SIGINT (then drain and stop). OSError when (host, port) cannot be bound;
    ``listening`` is called once it is (a line saying the server runs, never before it does).
    Returns None after a drain, or the second signal that stopped the server before it had drained."""
    sock = listen(host, port)
    try:
        if listening is not None:
            listening()
        app, service = create_app(config)
        uv = uvicorn_config(app, config, host, port, tls_cert=tls_cert, tls_key=tls_key, log_level=log_level)
        server = draining_server(uv, service)
        server.run(sockets=[sock])
        return server.stopped_by
    finally:
        sock.close()

"""The model worker: a process of its own that decodes the streams' spike messages and runs the
cloud half, fed batches by the server's event loop over a socket pair.

Why a process: in one process the event loop (WebSocket framing, per-message bookkeeping) and the
model work (the link decoder's per-message Python, the cloud half) take turns on one GIL, and the
server topped out near half the offline cloud half's rate. Here each has a core's worth of
interpreter: the event loop only reads frames, checks auth and limits, batches and routes answers;
the worker owns every stream's (stateful) link decoder and the model. torch is imported by the
worker only. Inside the worker, decoding and the cloud half are two stages on two threads
(:func:`serve_forever`): the next batch is decoded while torch runs this one (on this 2-core
machine, with the benchmark's clients beside it, 0.73-0.88x the offline cloud half's rate in
three runs, from 0.58-0.85x with one thread).

The wire between them (:class:`WorkerLink` on the server's side, :func:`main` here) carries
length-prefixed frames, one kind byte then the body, answered in the order they were sent (the
worker reads and decodes them one after the other, and answers them in that order):

* ``O`` open a stream: sid (u32), then its header message; answered ``o``: close code (u16, 0 when
  accepted), then the refusal's reason (UTF-8);
* ``B`` a batch: n (u32), n sids (u32), n message lengths (u32), the n messages back to back --
  one bytes blob per batch, not one object per image; answered ``R``: n statuses (u8: 0 answered,
  1 refused, 2 skipped because its stream failed earlier), the answered images' logits (float32,
  row-major), then a JSON list of ``[position, close code, reason]`` for the refused ones;
* ``C`` close a stream: sid (u32); not answered.

At start the worker sends ``I``: a JSON object with the model's info (model, code shape, class
count, prior digest), or ``E`` with a one-line error. It exits when the socket closes (the server
ended) and, on Linux, when the server process dies (``PR_SET_PDEATHSIG``), so it never outlives it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

LEN = struct.Struct("<I")
U32 = struct.Struct("<I")
OPEN_ANSWER = struct.Struct("<IH")  # sid, close code
START_TIMEOUT = 300.0  # loading torch and the model on a busy machine

OK, REFUSED, SKIPPED = 0, 1, 2


class WorkerError(RuntimeError):
    """The model worker could not start, or has exited: ``str()`` is one line saying why."""


# -- the server's side ------------------------------------------------------------------------


def pack_batch(sids: Sequence[int], messages: Sequence[bytes]) -> bytes:
    """A ``B`` frame's body: the batch as one blob (sids, lengths, messages)."""
    n = len(sids)
    return b"".join((U32.pack(n), np.asarray(sids, "<u4").tobytes(), np.fromiter(map(len, messages), "<u4", n).tobytes(),
                     *messages))


def unpack_batch(body: bytes | memoryview) -> tuple[np.ndarray, list[bytes]]:
    """(sids, messages) of a ``B`` frame's body."""
    n = U32.unpack_from(body)[0]
    sids = np.frombuffer(body, "<u4", n, 4)
    lengths = np.frombuffer(body, "<u4", n, 4 + 4 * n)
    ends = (8 * n + 4 + np.cumsum(lengths, dtype=np.int64)).tolist()
    starts = [8 * n + 4] + ends[:-1]
    view = memoryview(body)
    return sids, [bytes(view[a:b]) for a, b in zip(starts, ends)]


def unpack_results(body: bytes, classes: int) -> tuple[list[int], np.ndarray, dict[int, tuple[int, str]]]:
    """(statuses, logits of the answered images (m, classes), position -> (code, reason)) of an ``R`` body."""
    n = U32.unpack_from(body)[0]
    status = np.frombuffer(body, np.uint8, n, 4)
    m = int(np.count_nonzero(status == OK))
    logits = np.frombuffer(body, "<f4", m * classes, 4 + n).reshape(m, classes)
    rest = bytes(body[4 + n + 4 * m * classes :])  # present only when an image was refused (not merely skipped)
    refused = {int(k): (int(c), r) for k, c, r in json.loads(rest)} if rest else {}
    return status.tolist(), logits, refused


class WorkerLink:
    """The server's end of one worker process: start it (:meth:`start`, blocking: the model loads
    now), then, inside the event loop, :meth:`connect` and send it work; each request that has an
    answer gets a future, resolved in order by :meth:`_read_answers`. When the worker exits every
    pending and later request fails with :class:`WorkerError` and :attr:`failed` says why."""

    def __init__(self, model: str | None, torch_threads: int | None):
        self.model = model
        self.torch_threads = torch_threads
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.info: dict[str, Any] = {}
        self.failed: str | None = None
        self.pending: collections.deque[tuple[bytes, asyncio.Future]] = collections.deque()
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task | None = None
        self.on_failure: Any = None  # called (in the loop) once, when the worker is found gone

    def start(self) -> dict[str, Any]:
        """Start the process and wait for its info (WorkerError, one line, if it cannot start)."""
        self.spawn()
        return self.wait_ready()

    def spawn(self) -> None:
        """Start the process (it loads the model while this one goes on)."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the worker imports this very spikecodec
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        cmd = [sys.executable, "-m", "spikecodec.serve.worker", "--fd", str(theirs.fileno()), "--parent", str(os.getpid()),
               "--model", self.model or "", "--threads", str(self.torch_threads or 0)]
        # A session of its own: a terminal's Ctrl-C goes to the server, which drains, then ends the worker.
        self.proc = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], env=env, start_new_session=True)
        theirs.close()
        self.sock = ours

    def wait_ready(self) -> dict[str, Any]:
        """Wait for the started process's info (WorkerError, one line, if it could not start)."""
        ours = self.sock
        assert ours is not None
        ours.settimeout(START_TIMEOUT)
        try:
            kind, body = read_frame_blocking(ours)
        except (OSError, EOFError) as exc:
            self.stop()
            raise WorkerError(f"the model worker did not start ({self.exit_text() or exc})") from None
        if kind == b"E":
            self.stop()
            raise WorkerError(body.decode(errors="replace"))
        self.info = json.loads(body)
        ours.settimeout(None)
        ours.setblocking(False)
        return self.info

    async def connect(self) -> None:
        """Attach the socket to the running loop and start reading answers."""
        assert self.sock is not None
        reader, self.writer = await asyncio.open_connection(sock=self.sock, limit=1 << 24)
        self.reader_task = asyncio.create_task(self._read_answers(reader))

    def request(self, kind: bytes, body: bytes) -> asyncio.Future:
        """Send a request that is answered; its future gets the answer's body."""
        future = asyncio.get_running_loop().create_future()
        if self.failed is not None:
            future.set_exception(WorkerError(self.failed))
            return future
        self.pending.append((kind, future))
        self._send(kind, body)
        return future

    def tell(self, kind: bytes, body: bytes) -> None:
        """Send a request that is not answered."""
        if self.failed is None:
            self._send(kind, body)

    def _send(self, kind: bytes, body: bytes) -> None:
        assert self.writer is not None
        # One write per frame; the transport buffers, so the loop never blocks on the worker.
        self.writer.write(LEN.pack(len(body) + 1) + kind + body)

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = LEN.unpack(await reader.readexactly(4))[0]
                frame = await reader.readexactly(size)
                _, future = self.pending.popleft()
                if not future.done():
                    future.set_result(frame[1:])
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        await asyncio.sleep(0)  # let the process's exit status settle
        self._fail()

    def exit_text(self) -> str:
        """How the process ended ('' while it runs)."""
        if self.proc is None:
            return ""
        try:
            code = self.proc.wait(1.0)
        except subprocess.TimeoutExpired:
            return ""
        if code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def _fail(self) -> None:
        if self.failed is not None:
            return
        self.failed = f"the model worker (pid {self.proc.pid if self.proc else '?'}) exited: {self.exit_text() or 'its socket closed'}"
        while self.pending:
            _, future = self.pending.popleft()
            if not future.done():
                future.set_exception(WorkerError(self.failed))
        if self.on_failure is not None:
            self.on_failure(self.failed)

    def close(self) -> None:
        """Close the socket (the worker exits when it reads its end); in the loop once connected."""
        self.failed = self.failed or "the server stopped"
        if self.reader_task is not None:
            self.reader_task.cancel()
        if self.writer is not None:
            self.writer.close()
        elif self.sock is not None:
            self.sock.close()

    def stop(self, timeout: float = 5.0) -> None:
        """:meth:`close` (unless done), wait for the process, kill it if it lingers."""
        if self.failed is None:
            self.close()
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def read_frame_blocking(sock: socket.socket) -> tuple[bytes, bytes]:
    """(kind, body) of the next frame on a blocking socket; EOFError when it closed."""
    size = LEN.unpack(recv_exactly(sock, 4))[0]
    frame = recv_exactly(sock, size)
    return frame[:1], frame[1:]


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError("the socket closed")
        got += k
    return bytes(buf)


# -- the worker's side ------------------------------------------------------------------------


class Model:
    """The cloud half and the streams' decoders (all in this process)."""

    def __init__(self, model: str | None, threads: int):
        import math

        import torch

        from ..limits import ReadLimits
        from ..models.coinference import EDGE_AXES, load_split, shipped_prior

        if threads:
            torch.set_num_threads(threads)
        self.net, self.info = load_split(model or None)
        self.axes = EDGE_AXES
        self.prior = shipped_prior(self.info["model"])
        # One message is one image: a message that would decode to more is refused before decoding.
        self.limits = ReadLimits(max_bytes=math.prod(self.info["code_shape"]))
        self.decoders: dict[int, Any] = {}
        self.failed: set[int] = set()
        self.classes = 0

    def warm_up(self) -> None:
        """Decode one image's message and run the cloud half once, so the first client does not
        wait for compilation and the class count is known."""
        from ..container.link import LinkEncoder

        enc = LinkEncoder(self.info["code_shape"], prior=self.prior, metadata=self.info)
        decoder = self.open_decoder(enc.header)
        frames = decoder.link.decode(enc.encode(np.zeros(self.info["code_shape"], np.uint8)))
        self.classes = int(decoder.run(frames).shape[1])

    def describe(self) -> dict[str, Any]:
        return {"model": self.info["model"], "code_shape": list(self.info["code_shape"]), "classes": self.classes,
                "prior": self.prior.digest if self.prior else None}

    def open_decoder(self, header: bytes) -> Any:
        """The stream's decoder, or a ProtocolError (BAD_HEADER / BAD_SHAPE) saying why its header is refused."""
        from ..errors import FormatError
        from ..models.coinference import CloudDecoder
        from . import protocol as P

        try:
            decoder = CloudDecoder(header, self.info["model"], priors=[self.prior] if self.prior else None, limits=self.limits)
        except FormatError as exc:
            raise P.ProtocolError(P.BAD_HEADER, f"bad header message: {exc.message}") from None
        except ValueError as exc:  # spikes not shaped like the model's code
            raise P.ProtocolError(P.BAD_SHAPE, str(exc)) from None
        if decoder.link.axes != self.axes:
            raise P.ProtocolError(P.BAD_SHAPE, f"axes {''.join(decoder.link.axes)}; the server takes {''.join(self.axes)} streams")
        chunk = decoder.link.header.chunk_shape
        if len(chunk) != 1:  # a record per image at most: the work of a message is then an image's, whatever its codec
            raise P.ProtocolError(P.BAD_HEADER, f"chunks {chunk} split images: chunks here are whole images (LinkEncoder's chunk=1)")
        return decoder

    def open(self, body: bytes) -> bytes:
        """An ``O`` request: the ``o`` answer's body."""
        from . import protocol as P

        sid = U32.unpack_from(body)[0]
        try:
            decoder = self.open_decoder(body[4:])
        except P.ProtocolError as exc:
            return OPEN_ANSWER.pack(sid, exc.code) + exc.reason.encode()
        # The prior the header's codec names, for the server to compare with the hello's.
        named = getattr(decoder.link.header.pipeline().array_codec, "prior_id", None) or ""
        self.decoders[sid] = decoder
        self.failed.discard(sid)
        return OPEN_ANSWER.pack(sid, 0) + named.encode()

    def close(self, body: bytes) -> None:
        sid = U32.unpack_from(body)[0]
        self.decoders.pop(sid, None)
        self.failed.discard(sid)

    def batch(self, body: bytes) -> bytes:
        """A ``B`` request: decode each message with its stream's decoder, run the decoded images
        through the cloud half together; the ``R`` answer's body."""
        return self.answer(self.decode_batch(body))

    def decode_batch(self, body: bytes) -> "DecodedBatch":
        """A ``B`` request's first stage: each message decoded by its stream's decoder (the
        streams' state lives here, so batches are decoded one after the other, in order)."""
        from ..errors import FormatError, LimitError
        from . import protocol as P

        sids, messages = unpack_batch(body)
        n = len(messages)
        status = np.full(n, OK, np.uint8)
        frames, refused = [], []
        decoders, failed = self.decoders, self.failed
        for k, (sid, message) in enumerate(zip(sids.tolist(), messages)):
            decoder = decoders.get(sid)
            if decoder is None or sid in failed:  # its stream failed before, or was closed
                status[k] = SKIPPED
                continue
            try:
                f = decoder.link.decode(message)
                if f.shape[0] != 1:
                    raise FormatError(f"the message holds {f.shape[0]} images; one image per message", code="message-size")
            except LimitError:
                failed.add(sid)
                status[k] = REFUSED
                refused.append([k, P.BAD_MESSAGE, "the message decodes to more than one image; one image per message"])
                continue
            except FormatError as exc:
                failed.add(sid)
                status[k] = REFUSED
                refused.append([k, P.BAD_MESSAGE, f"bad message: {exc.message}"])
                continue
            frames.append(f)
        # Streams of one server share axes and model, so one decoder's run serves them all.
        run = next(iter(decoders.values())).run if frames else None
        return DecodedBatch(status, frames, refused, run)

    @staticmethod
    def answer(decoded: "DecodedBatch") -> bytes:
        """A ``B`` request's second stage: the cloud half on the decoded images; the ``R`` answer's body."""
        parts = [U32.pack(len(decoded.status)), decoded.status.tobytes()]
        if decoded.frames:
            assert decoded.run is not None
            parts.append(decoded.run(np.concatenate(decoded.frames)).float().numpy().astype("<f4", copy=False).tobytes())
        if decoded.refused:
            parts.append(json.dumps(decoded.refused).encode())
        return b"".join(parts)


class DecodedBatch(NamedTuple):
    """A batch between the worker's two stages: per-image statuses, the answered images' frames,
    the refused ones' ``[position, close code, reason]``, and the cloud half to run them through."""

    status: np.ndarray
    frames: list[np.ndarray]
    refused: list[list[Any]]
    run: Callable[[np.ndarray], Any] | None


def die_with_parent(parent: int) -> None:
    """On Linux, have the kernel kill this process when the server dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the server died before the line above
        os._exit(1)


def send_frame(sock: socket.socket, kind: bytes, body: bytes) -> None:
    sock.sendall(LEN.pack(len(body) + 1) + kind + body)


def serve_forever(sock: socket.socket, model: Model) -> None:
    """Answer requests until the socket closes, in two stages on two threads: this one reads the
    requests and decodes each batch's messages (the streams' state lives here); the other runs
    the cloud half and sends the answers, in the order the requests came. Decoding batch k+1 (the
    link decoders' Python and kernels) overlaps the cloud half of batch k (torch, which releases
    the GIL), so the worker uses more than one core when the machine has one to spare."""
    answers: queue.Queue = queue.Queue(maxsize=2)  # bounded: decoding runs at most two batches ahead
    failure: list[BaseException] = []

    def model_stage() -> None:
        try:
            while (item := answers.get()) is not None:
                kind, payload = item
                send_frame(sock, kind, model.answer(payload) if kind == b"R" else payload)
        except BaseException as exc:  # a closed socket or a bug: the reading side stops too
            failure.append(exc)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    sender = threading.Thread(target=model_stage, name="cloud-half", daemon=True)
    sender.start()

    def hand_over(item: tuple[bytes, Any] | None) -> bool:
        while sender.is_alive():
            try:
                answers.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    try:
        while not failure:
            try:
                kind, body = read_frame_blocking(sock)
            except (EOFError, ConnectionError, OSError):
                return
            if kind == b"B":
                ok = hand_over((b"R", model.decode_batch(body)))
            elif kind == b"O":
                ok = hand_over((b"o", model.open(body)))
            elif kind == b"C":
                model.close(body)
                ok = True
            else:
                raise RuntimeError(f"unknown request {kind!r}")
            if not ok:
                return
    finally:
        hand_over(None)
        sender.join()
        if failure and not isinstance(failure[0], (BrokenPipeError, ConnectionResetError)):
            raise failure[0]


def main(argv: Sequence[str] | None = None) -> int:
    """The worker process (``python -m spikecodec.serve.worker --fd N --parent PID``)."""
    import argparse

    parser = argparse.ArgumentParser(description="spikecodec serve's model worker (started by the server)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--model", default="")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    # The server drains on SIGINT / SIGTERM and then closes our socket: those signals are its to act on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(args.parent)
    sock = socket.socket(fileno=args.fd)
    try:
        model = Model(args.model or None, args.threads)
        model.warm_up()
    except Exception as exc:  # an unknown model, an unreadable checkpoint: one line for the server to show
        send_frame(sock, b"E", f"the model worker could not load the model: {type(exc).__name__}: {exc}".encode())
        return 1
    send_frame(sock, b"I", json.dumps(model.describe()).encode())
    try:
        serve_forever(sock, model)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

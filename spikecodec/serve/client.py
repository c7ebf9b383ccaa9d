"""A client of ``spikecodec serve``: send images (run through the edge half here) or spike
messages of your own, get each image's class and logits back, in order.

    from spikecodec.serve import ServeClient

    with ServeClient("server:8000", token="...", tls_ca="ca.pem") as client:
        result = client.predict(images)              # edge half here, cloud half there
        print(result.classes, result.logits.shape)

    enc = spikecodec.LinkEncoder(...)                # messages made by your own edge half
    with ServeClient("server:8000", token="...", header=enc.header) as client:
        result = client.predict_messages(enc.encode(s) for s in spikes)

Blocking: each call runs ``websockets``' asyncio client on an event loop of the client's own, in
the calling thread (in a helper thread, while the caller waits, when the caller's thread runs an
event loop already: a notebook). Its threaded client reads a TLS socket in one thread while
writing it in another; OpenSSL objects are not safe for that, and connects failed now and then
with "[SSL] internal error". One client is one stream; use one per camera or thread. A refused or
failed stream raises :class:`ServeError` with the server's close code and reason and the answers
received before it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ssl
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from . import protocol as P


@dataclass
class Predictions:
    """Answers, in the order the images were sent: the client's ids, classes and logits (n, classes)."""

    ids: np.ndarray
    classes: np.ndarray
    logits: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def join(cls, parts: Sequence["Predictions"], classes: int) -> "Predictions":
        if not parts:
            return cls(np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros((0, classes), np.float32))
        return cls(np.concatenate([p.ids for p in parts]), np.concatenate([p.classes for p in parts]),
                   np.concatenate([p.logits for p in parts]))


ANSWERED_KEPT = 1 << 16  # images whose answers a client keeps for ServeError.answered


class ServeError(Exception):
    """The server refused or ended the stream: ``code`` (docs/serve.md), ``reason``, and the
    ``answered`` predictions that arrived before (those of the last ANSWERED_KEPT images at
    least)."""

    def __init__(self, code: int, reason: str, answered: Predictions | None = None):
        self.code = code
        self.reason = reason
        self.answered = answered
        super().__init__(f"the server closed the stream: {reason or 'no reason given'} (code {code})")


class ServerProtocolError(ServeError):
    """The server sent what the protocol does not allow (a malformed ready or answer frame,
    answers out of order, a frame over the client's 1 MiB limit), so this client ended the
    stream: ``code`` is the close code it sent, ``answered`` as for ServeError."""

    def __init__(self, code: int, reason: str, answered: Predictions | None = None):
        super().__init__(code, reason, answered)
        self.args = (str(self),)

    def __str__(self) -> str:
        return f"the server broke the protocol: {self.reason} (this client closed the stream, code {self.code})"


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as (host, port); ValueError otherwise."""
    import ipaddress

    if not isinstance(address, str):
        raise TypeError(f"an address is a 'HOST:PORT' string, got {type(address).__name__}")
    host, sep, port = address.rpartition(":")
    # ASCII digits only: str.isdigit() took '١٢' (Arabic-Indic) as port 12.
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif "[" in host or "]" in host:
        raise ValueError(f"expected HOST:PORT ([IPV6]:PORT), got {address!r}")
    if ":" in host:  # only an IPv6 address has colons: 'http://server:8000' is no host
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"expected HOST:PORT (no scheme; [IPV6]:PORT), got {address!r}") from None
    elif any(c.isspace() or c in "/?#@\\" for c in host):  # a URL's parts, or a stray space
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host, int(port)


def header_model_and_prior(header: bytes) -> tuple[str | None, str | None]:
    """The model a header message's metadata names and the digest of the prior its codec names."""
    from ..container.link import parse_header_message

    h, _ = parse_header_message(bytes(header))
    model = h.metadata.get("model")
    prior = getattr(h.pipeline().array_codec, "prior_id", None) or None
    return (model if isinstance(model, str) else None), prior


def direct_connection(connect: Any) -> dict[str, Any]:
    """``connect``'s option for returning the connection itself (websockets >= 17 asks for it)."""
    import inspect

    return {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}


#: What an exception that came without words means, said in them.
_UNSAID = {ConnectionResetError: "the server reset the connection", ConnectionAbortedError: "the connection was aborted",
           BrokenPipeError: "the server closed the connection", TimeoutError: "timed out"}


class ServeClient:
    """One stream to a ``spikecodec serve`` server at ``address`` (``HOST:PORT``).

    ``token``: the server's token (None when it needs none). ``header``: the header message of
    a stream of your own messages; without it the client runs the edge half of ``model``
    (default: the default reference; needs torch) and codes the images itself. ``tls_ca``: a CA
    certificate file to verify the server with (turns TLS on), ``tls=True`` TLS with the system's
    CAs. ``timeout``: seconds to wait for the server at each step. Connecting sends the hello and
    the header and waits for the server to accept them (ServeError if it does not)."""

    def __init__(self, address: str, *, token: str | None = None, model: str | None = None, header: bytes | None = None,
                 tls_ca: str | None = None, tls: bool = False, timeout: float = 30.0):
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        host, port = parse_address(address)
        if token is not None:  # before connecting: bytes failed in json.dumps, a long token as a "too big" hello
            if not isinstance(token, str):
                raise TypeError(f"token is a str (or None), got {type(token).__name__}")
            P.check_token(token)
        if header is not None and not isinstance(header, (bytes, bytearray, memoryview)):
            raise TypeError(f"header is bytes (LinkEncoder.header), got {type(header).__name__}")
        self.edge = None
        if header is None:
            from ..models.coinference import EdgeEncoder

            self.edge = EdgeEncoder(model)
            header = self.edge.header
        named_model, prior = header_model_and_prior(header)
        model = model or named_model
        if model is None:
            raise ValueError("the header's metadata names no model: pass model=")
        context = None
        if tls or tls_ca is not None:
            try:
                context = ssl.create_default_context(cafile=tls_ca)
            except (OSError, ssl.SSLError) as exc:  # the file's problem, said as such (not the server's address)
                raise ValueError(f"tls_ca {tls_ca!r}: {getattr(exc, 'strerror', None) or exc}") from None
        timeout = _seconds(timeout)
        scheme = "wss" if context is not None else "ws"
        self.timeout = timeout
        self.answered: list[Predictions] = []  # the answers of the last ANSWERED_KEPT images at least
        self._answered_images = 0
        self._expected: list[int] = []  # ids sent and not answered yet, in order
        self._next = 0
        self.bytes_sent = 0  # chunk messages' bytes, not counting ids and WebSocket framing
        self._loop = asyncio.new_event_loop()
        self.ws = None
        try:
            # No keepalive pings from here: the loop runs only inside this client's calls, so a
            # pong could wait in the socket past its deadline while the caller computes.
            self.ws = self._run(connect(f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}{P.PATH}", ssl=context,
                                        open_timeout=timeout, compression=None, proxy=None, max_size=1 << 20, max_queue=None,
                                        ping_interval=None))
        except (OSError, InvalidHandshake, ConnectionClosed) as exc:  # refused, TLS failures, not a WebSocket server
            self._loop.close()
            # A bare ConnectionResetError() says nothing: its type does (the message ended in "...:").
            why = getattr(exc, "strerror", None) or str(exc) or _UNSAID.get(type(exc), type(exc).__name__)
            if context is None and isinstance(exc, InvalidHandshake) and not isinstance(exc, InvalidStatus):
                why += " (if the server uses TLS, give its certificate: tls_ca=, --tls-ca)"  # a TLS server answers a plain hello with no HTTP
            elif isinstance(exc, InvalidStatus) and exc.response.status_code == 503:  # an HTTP answer: not a TLS matter
                why += " (the server is at its most connections: retry later)"
            raise ConnectionError(f"cannot connect to {address}: {why}") from exc
        except BaseException:
            self._loop.close()
            raise
        try:
            try:
                self._send(P.Hello(token, model, prior).encode())
                self._send(bytes(header))
            except ConnectionClosed:
                pass  # the server refused the hello already: _recv raises its reason
            self.ready = self._parsed(P.parse_ready, self._recv())
        except BaseException:
            self.close()
            raise
        self.classes: int = self.ready["classes"]
        self.window: int = self.ready["window"]

    def _answered_so_far(self) -> Predictions:
        return Predictions.join(self.answered, getattr(self, "classes", 1))

    def _parsed(self, parse: Any, *args: Any) -> Any:
        """``parse(*args)`` (a protocol function); a frame it refuses ends the stream with its
        close code and raises ServerProtocolError."""
        try:
            return parse(*args)
        except P.ProtocolError as exc:
            self._end(exc.code, exc.reason)
            raise ServerProtocolError(exc.code, exc.reason, self._answered_so_far()) from None

    def _end(self, code: int, reason: str) -> None:
        """Close the stream with ``code`` (the server broke the protocol), waiting at most the
        client's timeout for the server to take the close frame."""
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
            self._run(asyncio.wait_for(self.ws.close(code, P.short_reason(reason)), self.timeout))

    def _send(self, frame: bytes) -> None:
        """Send one frame, waiting at most the client's timeout for the server to take it: a
        server that stops reading held a send for ever (the timeout covered receiving only)."""
        self._check_open()
        try:
            self._run(asyncio.wait_for(self.ws.send(frame), self.timeout))
        except TimeoutError:
            self.ws.transport.abort()  # the frame may be half written: the stream cannot go on
            raise ClientTimeout(P.TIMEOUT, f"the server took no frame within {self.timeout:g} s (this client's timeout; "
                                "this client ended the stream)", self._answered_so_far()) from None

    def _recv(self) -> bytes:
        from websockets.exceptions import ConnectionClosed

        self._check_open()
        try:
            data = self._run(asyncio.wait_for(self.ws.recv(), self.timeout))  # cancelling recv() loses nothing
        except ConnectionClosed as exc:
            close, mine = exc.rcvd, exc.sent
            if close is None and mine is not None and mine.code != 1000:  # this client refused a frame (1009: over 1 MiB)
                raise ServerProtocolError(mine.code, mine.reason or "a frame this client cannot take",
                                          self._answered_so_far()) from None
            raise ServeError(close.code if close else 1006, close.reason if close else "connection lost",
                             self._answered_so_far()) from None
        except TimeoutError:
            raise ClientTimeout(P.TIMEOUT, f"no answer from the server within {self.timeout:g} s (this client's timeout; "
                                "the stream was not closed by the server)", self._answered_so_far()) from None
        if isinstance(data, str):
            self._end(P.PROTOCOL, "a text frame")
            raise ServerProtocolError(P.PROTOCOL, "a text frame (the protocol's frames are binary)", self._answered_so_far())
        return data

    def send(self, image_id: int, message: bytes) -> None:
        """Send one image's chunk message under the client's ``image_id`` (0 <= id < 2**64)."""
        from websockets.exceptions import ConnectionClosed

        if isinstance(image_id, bool) or not isinstance(image_id, (int, np.integer)) or not 0 <= image_id < 1 << 64:
            raise ValueError(f"an image id is an integer 0 <= id < 2**64, got {image_id!r:.40}")
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise TypeError(f"a chunk message is bytes (LinkEncoder.encode's), got {type(message).__name__}")
        if not len(message):  # LinkEncoder.encode of no frames; the server would end the whole stream (4010)
            raise ValueError(f"image {image_id}: the message is empty (LinkEncoder.encode of no frames makes none): send one image's message")
        image_id = int(image_id)
        try:
            self._send(P.encode_image(image_id, message))
        except ConnectionClosed:
            while True:  # the server closed the stream: take the answers before the close, then raise its reason
                self.receive()
        self._expected.append(image_id)
        self.bytes_sent += len(message)

    def send_image(self, image_id: int, image: Any) -> None:
        """Run one image (H, W) or (C, H, W), uint8, through the edge half and send it."""
        if self.edge is None:
            raise ValueError("this client sends messages of its own (it was given a header): use send()")
        # One image, checked here: EdgeEncoder.encode takes a batch too, so an RGB image (3, H, W)
        # for a grayscale model went out as three images and the server ended the whole stream.
        shape = tuple(getattr(image, "shape", np.shape(image)))
        c, h, w = self.edge.info["input_shape"]
        if shape not in ((h, w), (c, h, w)):
            one = f"({h}, {w}) or ({c}, {h}, {w})" if c == 1 else f"({c}, {h}, {w})"
            raise ValueError(f"image {image_id}: one image is {one} for model {self.edge.info['model']!r}, got shape {shape}")
        self.send(image_id, self.edge.encode(image))

    def receive(self) -> Predictions:
        """The next answer frame's predictions (one or more images, in the order sent)."""
        got = self._parsed(P.parse_answers, self._recv(), self.classes)
        part = Predictions(*got)
        want = self._expected[: len(part)]
        if [int(i) for i in part.ids] != want:
            reason = f"answers for ids {[int(i) for i in part.ids[:4]]}..., expected {want[:4]}..."
            self._end(P.PROTOCOL, reason)
            raise ServerProtocolError(P.PROTOCOL, reason, self._answered_so_far())
        del self._expected[: len(part)]
        self.answered.append(part)
        self._answered_images += len(part)
        if self._answered_images >= 2 * ANSWERED_KEPT:  # a client of days kept every answer; trimmed now and then
            drop = 0
            while self._answered_images - len(self.answered[drop]) >= ANSWERED_KEPT:
                self._answered_images -= len(self.answered[drop])
                drop += 1
            del self.answered[:drop]
        return part

    def _pipeline(self, sends: Iterator[tuple[int, Any]], send: Any) -> Predictions:
        """Send while fewer than ``window`` images wait for answers, else receive."""
        from websockets.protocol import State

        self._check_open()
        # Answers owed to send()'s images would come first and be returned as these images'; on
        # a stream the server ended, sending raises its ServeError as before.
        if self._expected and self.ws.state is State.OPEN:
            raise ValueError(f"{len(self._expected)} image(s) sent with send() wait for answers: receive() them "
                             "before predict()")
        mine = []
        pending = iter(sends)
        exhausted = False
        try:
            while True:
                while not exhausted and len(self._expected) < self.window:
                    try:
                        image_id, item = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    send(image_id, item)
                if not self._expected:
                    break
                mine.append(self.receive())
        except ServeError:
            raise
        except Exception:
            # Refused here (an image of the wrong shape, ids that do not number the images): the
            # answers owed to this call's images sent so far are taken and dropped with the error,
            # so that the next call's answers are its own (they came first, as another image's).
            while self._expected and self.ws.state is State.OPEN:
                self.receive()
            raise
        return Predictions.join(mine, self.classes)

    def _counted_ids(self) -> Iterator[int]:
        """0, 1, 2, ... over the client's life."""
        while True:
            yield self._next
            self._next += 1

    def predict_messages(self, messages: Iterable[bytes], ids: Iterable[int] | None = None) -> Predictions:
        """Send chunk messages (one image each) and return their predictions; ``ids`` default to
        0, 1, 2, ... counted over the client's life."""
        return self._pipeline(_pairs(ids, messages, self._counted_ids), self.send)

    def predict(self, images: Any, ids: Iterable[int] | None = None) -> Predictions:
        """Run ``images`` (uint8 (N, H, W) or (N, C, H, W), or an iterable of single images)
        through the edge half here, one message each, and return their predictions."""
        return self._pipeline(_pairs(ids, images, self._counted_ids), self.send_image)

    def close(self) -> None:
        """End the stream (close code 1000)."""
        from websockets.exceptions import ConnectionClosed

        if self._loop.is_closed():
            return
        try:
            with contextlib.suppress(ConnectionClosed, OSError):  # closed by the server already, or reset
                if self.ws is not None:
                    self._run(self.ws.close())
        finally:
            self._loop.close()

    def _check_open(self) -> None:
        """ValueError once the client is closed: asyncio's "Event loop is closed" said nothing of it."""
        if self._loop.is_closed():
            raise ValueError("this ServeClient is closed (its stream ended): open a new one")

    def _run(self, work: Any) -> Any:
        """Run ``work`` (a coroutine or awaitable) on the client's event loop until it is done: in
        this thread, or - called from inside a running event loop (a notebook, an async app),
        where no other loop may run - in a helper thread while this one waits. Either way one
        thread at a time uses the socket."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._loop.run_until_complete(work)
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="spikecodec-client") as pool:
            return pool.submit(self._loop.run_until_complete, work).result()

    def __enter__(self) -> "ServeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ClientTimeout(ServeError):
    """No answer came within the client's ``timeout``: the client gave up, the server did not
    close the stream (a ServeError, as before, with the answers that did come)."""

    def __str__(self) -> str:
        return f"{self.reason} (code {self.code})"


def _pairs(ids: Iterable[int] | None, items: Iterable[Any], counted: Any) -> Iterator[tuple[int, Any]]:
    """(id, item) for each item: ``ids`` given must number the items exactly (zip stopped at the
    shorter, so images past the ids were dropped without a word); else ``counted()``'s."""
    it = iter(items)
    if ids is None:
        yield from zip(counted(), it)
        return
    ids = list(ids)
    for image_id in ids:
        try:
            item = next(it)
        except StopIteration:
            raise ValueError(f"more ids ({len(ids)}) than images") from None
        yield image_id, item
    if next(it, _END) is not _END:
        raise ValueError(f"fewer ids ({len(ids)}) than images: every image needs an id")


def _seconds(timeout: Any) -> float:
    """A timeout in seconds: a finite number above 0."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ValueError(f"timeout must be a number of seconds above 0, got {timeout!r:.40}")
    return float(timeout)


_END = object()

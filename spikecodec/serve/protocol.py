"""The serve protocol's frames (version 1), as bytes in and out: no I/O, no torch.

A client opens a WebSocket at :data:`PATH` and sends binary frames (docs/serve.md is the
normative description):

1. the *hello*: :data:`MAGIC`, the protocol version (one byte), then a UTF-8 JSON object
   ``{"token": ..., "model": ..., "prior": ...}`` (the prior's SHA-256 digest, or null);
2. the stream's *header message* (:attr:`spikecodec.LinkEncoder.header`);
3. one frame per image: the client's own 8-byte id (unsigned, little-endian), then the image's
   chunk message (:meth:`spikecodec.LinkEncoder.encode` of one frame).

The server answers the header with a *ready* frame (:data:`MAGIC`, version, JSON describing the
model and the limits), then each image, in the client's order, with an *answer record*: the
id, the predicted class (uint32) and the logits (float32), all little-endian; one answer frame
holds one or more records. A refused or failed stream is closed with one of the close codes
below and a one-line reason.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..json_text import strict_json

PATH = "/v1/stream"
MAGIC = b"SPKS"
VERSION = 1
HELLO_MAX_BYTES = 4096  # a hello is a token, a model name and a digest: never more
ID = struct.Struct("<Q")
ANSWER_HEAD = struct.Struct("<QI")  # id, class; then the logits
REASON_MAX_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes
MAX_CLASSES = 1 << 16  # classes a ready frame may announce (an answer record is 12 + 4 classes bytes)
DEFAULT_WINDOW = 64  # images in flight when a ready frame names no window
MAX_WINDOW = 1 << 20  # the most images in flight a ready frame may allow

# Close codes (RFC 6455 allows 4000-4999 for applications), and the error kind each is counted as.
NORMAL = 1000
GOING_AWAY = 1001  # the server is shutting down: in-flight images were answered, later ones refused
INTERNAL = 1011
UNAUTHORIZED = 4001
BAD_HELLO = 4002
WRONG_MODEL = 4003
BAD_HEADER = 4004
BAD_SHAPE = 4005
TOO_BIG = 4006
BAD_MESSAGE = 4007
TOO_MANY_STREAMS = 4008
TIMEOUT = 4009
PROTOCOL = 4010

KINDS = {
    UNAUTHORIZED: "unauthorized",
    BAD_HELLO: "bad_hello",
    WRONG_MODEL: "wrong_model",
    BAD_HEADER: "bad_header",
    BAD_SHAPE: "bad_shape",
    TOO_BIG: "too_big",
    BAD_MESSAGE: "bad_message",
    TOO_MANY_STREAMS: "too_many_streams",
    TIMEOUT: "timeout",
    PROTOCOL: "protocol",
    GOING_AWAY: "shutting_down",
    INTERNAL: "internal",
}


class ProtocolError(ValueError):
    """A frame that breaks the protocol: ``code`` is the close code that ends the stream."""

    def __init__(self, code: int, reason: str):
        self.code = code
        self.reason = reason
        super().__init__(f"{reason} (close code {code})")

    @property
    def kind(self) -> str:
        return KINDS.get(self.code, "other")


def short_reason(text: str) -> str:
    """``text`` cut to what a close frame carries (123 bytes of UTF-8)."""
    data = text.encode()
    if len(data) <= REASON_MAX_BYTES:
        return text
    return data[: REASON_MAX_BYTES - 3].decode(errors="ignore") + "..."


def _tagged(obj: dict[str, Any]) -> bytes:
    return MAGIC + bytes([VERSION]) + json.dumps(obj, separators=(",", ":")).encode()


def _untag(frame: bytes, what: str, code: int) -> dict[str, Any]:
    if len(frame) > HELLO_MAX_BYTES:
        raise ProtocolError(TOO_BIG, f"the {what} is {len(frame)} bytes; at most {HELLO_MAX_BYTES}")
    if frame[:4] != MAGIC or len(frame) < 5:
        raise ProtocolError(code, f"not a spikecodec serve {what} (no {MAGIC.decode()} magic)")
    if frame[4] != VERSION:
        raise ProtocolError(code, f"protocol version {frame[4]}; this side speaks version {VERSION}")
    try:
        text = frame[5:].decode()
    except UnicodeDecodeError:
        raise ProtocolError(code, f"the {what} is not UTF-8") from None
    try:
        obj = strict_json(text)  # the project's JSON rules: nesting too deep is a ValueError too
    except ValueError as exc:  # it says what: a key given twice, NaN, nesting too deep ...
        raise ProtocolError(code, short_reason(f"the {what} is not JSON the protocol takes: {exc}")) from None
    if not isinstance(obj, dict):
        raise ProtocolError(code, f"the {what} is not a JSON object")
    return obj


@dataclass(frozen=True)
class Hello:
    """The first frame: who the client is and what it will send."""

    token: str | None
    model: str
    prior: str | None  # the SHA-256 digest (hex) of the prior the stream is coded from; None: none

    def encode(self) -> bytes:
        return _tagged({"token": self.token, "model": self.model, "prior": self.prior})

    @classmethod
    def parse(cls, frame: bytes) -> "Hello":
        obj = _untag(frame, "hello", BAD_HELLO)
        token, model, prior = obj.get("token"), obj.get("model"), obj.get("prior")
        if token is not None and not isinstance(token, str):
            raise ProtocolError(BAD_HELLO, "the hello's token is not a string")
        if not isinstance(model, str):
            raise ProtocolError(BAD_HELLO, "the hello names no model")
        if prior is not None and not isinstance(prior, str):
            raise ProtocolError(BAD_HELLO, "the hello's prior is not a digest string")
        for name, value in (("token", token), ("model", model), ("prior", prior)):
            try:  # JSON may escape a lone surrogate (\ud800), which is no text: it has no UTF-8
                (value or "").encode()
            except UnicodeEncodeError:
                raise ProtocolError(BAD_HELLO, f"the hello's {name} is not Unicode text (a lone surrogate)") from None
        return cls(token, model, prior)


def encode_ready(info: dict[str, Any]) -> bytes:
    """The server's answer to an accepted header: the model and the stream's limits."""
    return _tagged(info)


def parse_ready(frame: bytes) -> dict[str, Any]:
    """The ready frame's JSON object, its ``classes`` (1 .. MAX_CLASSES) and ``window`` (1 ..
    MAX_WINDOW; DEFAULT_WINDOW when absent) checked: a window of 0 had a client send nothing
    and return no predictions, as if it had been given no images."""
    obj = _untag(frame, "ready frame", PROTOCOL)
    obj.setdefault("window", DEFAULT_WINDOW)
    for key, most in (("classes", MAX_CLASSES), ("window", MAX_WINDOW)):
        value = obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise ProtocolError(PROTOCOL, f"the ready frame's {key} is not a whole number 1 .. {most}: {value!r:.20}")
    return obj


def encode_image(image_id: int, message: bytes) -> bytes:
    """An image frame: the client's id, then the chunk message."""
    return ID.pack(image_id) + bytes(message)


def parse_image(frame: bytes) -> tuple[int, bytes]:
    """(id, chunk message) of an image frame."""
    if len(frame) <= ID.size:
        raise ProtocolError(PROTOCOL, f"an image frame of {len(frame)} bytes: an 8-byte id and a message expected")
    return ID.unpack_from(frame)[0], frame[ID.size :]


def answer_size(classes: int) -> int:
    """Bytes of one answer record."""
    return ANSWER_HEAD.size + 4 * classes


def encode_answers(ids: list[int], classes: np.ndarray, logits: np.ndarray) -> bytes:
    """One answer frame for the images ``ids`` (in order): their classes and logits (n, classes)."""
    n, k = logits.shape
    rows = np.empty(n, dtype=np.dtype([("id", "<u8"), ("cls", "<u4"), ("logits", "<f4", (k,))]))
    rows["id"] = ids
    rows["cls"] = classes
    rows["logits"] = logits
    return rows.tobytes()


def parse_answers(frame: bytes, classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids uint64, classes int64, logits float32 (n, classes)) of an answer frame."""
    size = answer_size(classes)
    if not frame or len(frame) % size:
        raise ProtocolError(PROTOCOL, f"an answer frame of {len(frame)} bytes: not a whole number of {size}-byte answers")
    rows = np.frombuffer(frame, dtype=np.dtype([("id", "<u8"), ("cls", "<u4"), ("logits", "<f4", (classes,))]))
    return rows["id"].copy(), rows["cls"].astype(np.int64), rows["logits"].copy()


TOKEN_MAX_BYTES = 2048  # a token as the hello carries it (JSON text): with the model and the prior it fits HELLO_MAX_BYTES
TOKEN_FILE_MAX_BYTES = 1 << 20  # a token file: thousands of tokens; read no further (--token-file /dev/zero grew for ever)


def check_token(token: str) -> None:
    """ValueError for a token that no hello can carry (over TOKEN_MAX_BYTES as JSON text): the
    server would refuse the hello as too big, never as the token it is."""
    size = len(json.dumps(token)) - 2
    if size > TOKEN_MAX_BYTES:
        raise ValueError(f"a token of {size} bytes (as the hello's JSON carries it); at most {TOKEN_MAX_BYTES}")


def read_tokens(path: str) -> list[str]:
    """The tokens of a token file: one a line; blank lines and lines starting with # ignored,
    a UTF-8 byte-order mark (an editor's) too. ValueError for a file that holds none, is over
    TOKEN_FILE_MAX_BYTES, or holds a token no hello can carry (:func:`check_token`)."""
    with open(path, "rb") as f:
        data = f.read(TOKEN_FILE_MAX_BYTES + 1)
    if len(data) > TOKEN_FILE_MAX_BYTES:
        raise ValueError(f"is over {TOKEN_FILE_MAX_BYTES} bytes: not a token file (one token a line)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte {exc.start})") from None
    tokens = []
    # Lines end as open()'s text mode ends them (\n, \r\n, \r), not at every splitlines() break.
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        token = line.strip()
        if not token or token.startswith("#"):
            continue
        try:
            check_token(token)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        tokens.append(token)
    if not tokens:
        raise ValueError("holds no token (one a line)")
    return tokens

"""``spikecodec serve``: a shipped model's cloud half as a WebSocket service for many edge clients."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import CliError, about
from .common import model_name, positive_int

HELP = "serve a model's cloud half to edge clients over WebSockets (batched, authenticated)"
EPILOG = """\
examples:
  spikecodec serve --port 8000                                    # loopback only, no token
  spikecodec serve --host 0.0.0.0 --port 8443 --token-file tokens.txt --tls-cert cert.pem --tls-key key.pem
  spikecodec edge --images x.npy --connect server:8443 --token-file tokens.txt --tls-ca ca.pem -o preds.npy

Edge clients (`spikecodec edge --connect`, or spikecodec.serve.ServeClient) open a WebSocket at
/v1/stream, send a hello (token, model, prior), the stream's header and one message per image,
and get each image's class and logits back in their order (docs/serve.md). Images of all
clients run through the cloud half together: up to --max-batch at once, none waiting more than
--max-wait-ms for its batch to fill. GET /healthz says ok (503 while shutting down), GET /metrics
gives Prometheus metrics. SIGTERM or Ctrl-C: in-flight images are answered, new ones refused,
then the server stops (a second signal stops it at once).

--token-file: one token a line (blank lines and lines starting with # skipped, surrounding spaces
removed); a client must present one of them (compared in constant time). The file is read once, at
start: restart the server to change the tokens. At most 1 MiB of UTF-8 text, each token at most
2048 bytes as the hello's JSON carries it (a longer one could never be presented).
Without it the server accepts anyone and so listens only on a loopback address.

--tls-key: an unencrypted PEM key (a passphrase-protected one is refused, not prompted for).
A second SIGTERM or Ctrl-C stops the server without waiting for the drain (exit 143 or 130).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="NAME", help="the shipped model (default: the default reference)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, required=True, metavar="P", help="port to listen on")
    p.add_argument("--token-file", metavar="F", help="tokens clients must present, one a line")
    p.add_argument("--tls-cert", metavar="C", help="TLS certificate (PEM); with --tls-key")
    p.add_argument("--tls-key", metavar="K", help="TLS private key (PEM)")
    p.add_argument("--max-batch", type=positive_int, default=64, metavar="N", help="most images per batch (default 64)")
    p.add_argument("--max-wait-ms", type=float, default=5.0, metavar="W", help="longest an image waits for its batch (default 5)")
    p.add_argument("--max-streams-per-client", type=positive_int, default=64, metavar="N", help="open streams per token (default 64)")
    p.add_argument("--max-connections", type=positive_int, default=4096, metavar="N",
                   help="open connections, all clients together; past it a new one is answered 503 (default 4096)")
    p.add_argument("--idle-timeout", type=float, default=30.0, metavar="S",
                   help="close streams silent this long with nothing in flight, and cut connections that read nothing this long (default 30)")
    p.add_argument("--threads", type=positive_int, metavar="N", help="torch threads for the cloud half (default: torch's)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="model worker processes (default $SPIKECODEC_SERVE_WORKERS, else 1 on up to 2 cores, 2 on more)")
    p.add_argument("-q", "--quiet", action="store_true", help="no start-up line")
    p.set_defaults(run=run, own_signals=True)


def run(args: argparse.Namespace) -> int:
    from spikecodec.serve.protocol import read_tokens
    from spikecodec.serve.server import LOOPBACK, ServeConfig, default_workers, run_server

    if not 0 < args.port < 65536:
        raise CliError("--port", f"expected a port from 1 to 65535, got {args.port}", 2)
    if not 0 < args.idle_timeout < float("inf"):  # written so that NaN fails too
        raise CliError("--idle-timeout", "expected a positive number of seconds", 2)
    if not 0 <= args.max_wait_ms / 1000 < args.idle_timeout:  # NaN and inf too: a batch that waits for ever answers no client
        raise CliError("--max-wait-ms", f"expected a number of ms from 0 to under --idle-timeout ({args.idle_timeout:g} s), "
                       f"got {args.max_wait_ms:g}", 2)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise CliError("--tls-cert" if args.tls_key is None else "--tls-key", "TLS needs both --tls-cert and --tls-key", 2)
    # An IPv6 address as a URL writes it ([::1], as --connect takes it) is the address ::1: it
    # was refused as no loopback address, then as no host name ("Name or service not known").
    host = args.host[1:-1] if args.host.startswith("[") and args.host.endswith("]") else args.host
    if not host.strip():
        raise CliError("--host", f"no address in {args.host!r} (a name or an IP address: 127.0.0.1, 0.0.0.0, ::1)", 2)
    where = f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}"
    tokens = None
    if args.token_file is not None:
        with about(args.token_file):
            tokens = read_tokens(args.token_file)
    elif host not in LOOPBACK:
        # Without tokens anyone who reaches the port may use the model: only this machine may.
        raise CliError("--host", f"listening on {args.host} needs --token-file (without it only a loopback address)", 2)
    if args.tls_cert is not None:  # a bad certificate or key is reported before the model loads
        check_tls_files(args.tls_cert, args.tls_key)
    if args.workers is None:  # the environment's worker count, checked before the server says it is serving
        try:
            default_workers()
        except ValueError as exc:
            name, _, problem = str(exc).partition(": ")  # SPIKECODEC_SERVE_WORKERS='abc': expected ...
            raise CliError(name, problem, 2) from None
    model = model_name(args.model)  # loaded by the model worker only: this process never imports torch
    config = ServeConfig(model=model, tokens=tokens, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                         max_streams_per_client=args.max_streams_per_client, max_connections=args.max_connections,
                         idle_timeout=args.idle_timeout,
                         torch_threads=args.threads, workers=args.workers)
    def listening() -> None:  # once the port is bound: a port in use is then the only line
        if not args.quiet:
            scheme = "wss" if args.tls_cert else "ws"
            auth = f"{len(tokens)} token(s)" if tokens else "no token"
            print(f"spikecodec serve: {model} cloud half at {scheme}://{where}/v1/stream ({auth}); "
                  f"batches of up to {args.max_batch}, {args.max_wait_ms:g} ms wait", file=sys.stderr, flush=True)

    try:
        stopped_by = run_server(config, host, args.port, tls_cert=args.tls_cert, tls_key=args.tls_key, listening=listening)
    except OSError as exc:  # the port is taken, the certificate unreadable
        raise CliError(where, exc.strerror or str(exc)) from exc
    if stopped_by is not None:  # not drained: say so, and exit as a shell reports a signal
        import signal

        raise CliError(None, f"stopped at once by a second {signal.Signals(stopped_by).name}: images in flight "
                       "may not have been answered", 128 + stopped_by)
    return 0


TLS_FILE_MAX_BYTES = 1 << 20  # a PEM certificate chain or key is a few KiB


class _Encrypted(Exception):
    """OpenSSL asked for the key's passphrase."""


def _refuse_passphrase() -> bytes:
    raise _Encrypted


def check_tls_files(cert: str, key: str) -> None:
    """CliError naming the file at fault when ``cert`` and ``key`` are not a PEM certificate and
    its unencrypted private key. Each file is looked at alone first: OpenSSL's one error for the
    pair ("[SSL] PEM lib") named neither, and a missing key was reported as the certificate's."""
    import ssl
    import stat

    for path, marker, what in ((cert, b"-----BEGIN CERTIFICATE-----", "a PEM certificate"),
                               (key, b"PRIVATE KEY-----", "a PEM private key")):
        with about(path):
            with open(path, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # read twice (here, then by uvicorn): /dev/zero never ended
                    raise ValueError("is not a regular file (the server reads it again when it starts)")
                head = f.read(TLS_FILE_MAX_BYTES + 1)
            if len(head) > TLS_FILE_MAX_BYTES:
                raise ValueError(f"is over {TLS_FILE_MAX_BYTES} bytes: not {what}")
            if marker not in head:
                raise ValueError(f"is not {what} (no {marker.decode().strip('-')} block)")
    try:
        # A password callback: without one OpenSSL prompts on the terminal for an encrypted key
        # (and uvicorn prompts again), then fails with "Invalid argument" named for the certificate.
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key, password=_refuse_passphrase)
    except _Encrypted:
        raise CliError(key, "is an encrypted (passphrase-protected) private key: serve takes an unencrypted one "
                       "(openssl pkey -in KEY -out PLAIN_KEY)") from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise CliError(key, f"is not the private key of the certificate {cert}") from None
        # OpenSSL's words ("[SSL] PEM lib") say neither which file nor what
        raise CliError(cert, f"--tls-cert and --tls-key are not a PEM certificate and its private key ({exc.reason or exc})") from None

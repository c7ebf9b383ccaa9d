"""`spikecodec serve`: many clients at once answered exactly once, in order, as the offline cloud
half answers; strangers and hostile streams refused with a reason and no effect on the others;
graceful SIGTERM; TLS; the `edge --connect` and `serve` command lines."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from spikecodec.container.link import LinkEncoder
from spikecodec.serve import ServeClient, ServeError
from spikecodec.serve import protocol as P
from spikecodec.serve.server import ServeConfig
from spikecodec_cli.main import main

from serve_helpers import IMAGES, TOKEN, masked_frame, metric_value, offline_logits, raw_stream, serve, stream_messages

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    # Two model worker processes: the streams of the tests below are spread over both.
    config = ServeConfig(tokens=[TOKEN], max_batch=32, max_wait_ms=3, idle_timeout=3, handshake_timeout=3, workers=2)
    with serve(config) as running:
        yield running


def check_against_offline(result, ids, header, messages, end) -> None:
    """Every image answered exactly once, in order, with the offline cloud half's class and logits."""
    want = offline_logits(header, messages, end)
    assert list(result.ids) == list(ids)
    assert np.array_equal(result.classes, want.argmax(1))
    np.testing.assert_allclose(result.logits, want, rtol=0, atol=1e-5)


def good_client(address: str, spikes: np.ndarray, out: dict, key: object) -> None:
    header, messages, end = stream_messages(spikes)
    ids = [1000 * (hash(key) % 7) + 3 * i for i in range(len(messages))]  # the client's own ids, not 0..n
    with ServeClient(address, token=TOKEN, header=header) as client:
        out[key] = (client.predict_messages(messages, ids), ids, header, messages, end)


def run_threads(targets) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60  # all of them together, not 60 s more for each
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        assert not t.is_alive(), "a client did not finish within 60 s"


def test_concurrent_clients_each_answered_in_order_as_offline(server, spikes):
    before = server.metric("spikecodec_serve_images_total")
    out: dict = {}
    run_threads([lambda k=k: good_client(server.address, spikes[k * IMAGES : (k + 1) * IMAGES], out, k) for k in range(4)])
    assert sorted(out) == [0, 1, 2, 3]
    for result, ids, header, messages, end in out.values():
        assert len(result) == IMAGES
        check_against_offline(result, ids, header, messages, end)
    assert server.metric("spikecodec_serve_images_total") - before == 4 * IMAGES
    assert [shard.streams for shard in server.service.shards] == [0, 0]
    # Four streams at once: some batches held images of several of them.
    text = server.service.metrics.text().decode()
    assert metric_value(text, "spikecodec_serve_batch_size_sum") / metric_value(text, "spikecodec_serve_batch_size_count") > 1


@pytest.mark.parametrize("token, reason", [(None, "no token: this server needs one"), ("not-the-token", "wrong token"), (TOKEN + "x", "wrong token")])
def test_missing_or_wrong_token_refused_before_any_model_work(server, spikes, token, reason):
    header, messages, _ = stream_messages(spikes[:3])
    watched = ["spikecodec_serve_streams_opened_total", "spikecodec_serve_images_total", "spikecodec_serve_batches_total"]
    before = [server.metric(m) for m in watched]
    refused = server.metric("spikecodec_serve_errors_total", 'kind="unauthorized"')
    with pytest.raises(ServeError) as info:
        ServeClient(server.address, token=token, header=header)
    assert info.value.code == P.UNAUTHORIZED and info.value.reason == reason
    assert [server.metric(m) for m in watched] == before
    assert server.metric("spikecodec_serve_errors_total", 'kind="unauthorized"') == refused + 1


def open_raw(address: str, frames: list[bytes]):
    """A client that sends ``frames`` (hello first) as they are."""
    from websockets.sync.client import connect

    from spikecodec.serve.client import direct_connection

    ws = connect(f"ws://{address}{P.PATH}", compression=None, proxy=None, **direct_connection(connect))
    for frame in frames:
        ws.send(frame)
    return ws


def close_of(ws, timeout: float = 15.0) -> tuple[int, str]:
    """The code and reason the server closes ``ws`` with (answers before it are skipped)."""
    from websockets.exceptions import ConnectionClosed

    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as exc:
        return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("the server did not close the stream")


def hello(model: str = "snn-resnet-fmnist", prior: str | None = "shipped") -> bytes:
    from spikecodec.models.coinference import shipped_prior

    digest = shipped_prior().digest if prior == "shipped" else prior  # the default model's
    return P.Hello(TOKEN, model, digest).encode()


def hostile_cases(spikes: np.ndarray) -> dict[str, tuple[list[bytes], int, str]]:
    """name -> (frames sent, close code expected, a fragment of the reason)."""
    from spikecodec.models.coinference import load_split, shipped_prior

    _, info = load_split()
    header, messages, _ = stream_messages(spikes[:4])
    big = LinkEncoder((2, 4, 70, 70), metadata=info).header  # no prior: the shipped one is for 7 x 7
    flipped = bytearray(messages[2])
    flipped[len(flipped) // 2] ^= 0x10
    two = LinkEncoder(info["code_shape"], prior=shipped_prior(info["model"]), metadata=info)
    two_header = two.header
    ok = [P.encode_image(i, m) for i, m in enumerate(messages[:2])]
    return {
        "oversized declared shape": ([hello(prior=None), big], P.BAD_SHAPE, "takes (2, 4, 7, 7)"),
        "truncated message": ([hello(), header, *ok, P.encode_image(2, messages[2][:-2])], P.BAD_MESSAGE, "image 2: bad message"),
        "corrupted message": ([hello(), header, *ok, P.encode_image(2, bytes(flipped))], P.BAD_MESSAGE, "fails its check"),
        "two images in one message": ([hello(), two_header, P.encode_image(0, two.encode(spikes[:2]))], P.BAD_MESSAGE, "one image per message"),
        "message over the size limit": ([hello(), header, P.encode_image(0, b"\0" * 5000)], P.TOO_BIG, "at most"),
        "frame without a message": ([hello(), header, b"\1\2\3"], P.PROTOCOL, "8-byte id"),
        "garbage header": ([hello(), b"SPK\x89garbage"], P.BAD_HEADER, "bad header message"),
        "another model": ([hello("snn-other-model")], P.WRONG_MODEL, "not 'snn-other-model'"),
        "another prior": ([hello(prior="ab" * 32)], P.WRONG_MODEL, "is not served here"),
        "hello of another version": ([P.MAGIC + b"\x09{}"], P.BAD_HELLO, "version 9"),
    }


def test_hostile_streams_refused_with_a_reason_others_unchanged(server, spikes):
    cases = hostile_cases(spikes)
    out: dict = {}
    closes: dict = {}

    def hostile(name: str) -> None:
        frames, _, _ = cases[name]
        closes[name] = close_of(open_raw(server.address, frames))

    good = [lambda k=k: good_client(server.address, spikes[k * IMAGES : (k + 1) * IMAGES], out, k) for k in range(3)]
    run_threads(good + [lambda n=n: hostile(n) for n in cases])
    for name, (_, code, fragment) in cases.items():
        got_code, reason = closes[name]
        assert got_code == code and fragment in reason, (name, got_code, reason)
    for result, ids, header, messages, end in out.values():
        check_against_offline(result, ids, header, messages, end)
    assert urllib.request.urlopen(f"http://{server.address}/healthz", timeout=10).status == 200


def test_truncated_message_answers_the_images_before_it(server, spikes):
    header, messages, end = stream_messages(spikes[:6])
    with ServeClient(server.address, token=TOKEN, header=header) as client:
        for i in range(3):
            client.send(i, messages[i])
        client.send(3, messages[3][:-1])
        with pytest.raises(ServeError) as info:
            while True:
                client.receive()
    assert info.value.code == P.BAD_MESSAGE and info.value.reason.startswith("image 3: bad message:")
    answered = info.value.answered
    assert list(answered.ids) == [0, 1, 2]
    assert np.array_equal(answered.classes, offline_logits(header, messages, end)[:3].argmax(1))


def raw_connection(address: str, spikes: np.ndarray) -> tuple[socket.socket, bytes]:
    """A TCP connection past the WebSocket upgrade, the hello and the header (ready frame read)."""
    return raw_stream(address, (hello(), stream_messages(spikes[:1])[0]))


def test_client_killed_mid_message_and_slow_client(server, spikes):
    killed = server.metric("spikecodec_serve_errors_total", 'kind="disconnected"')
    timeouts = server.metric("spikecodec_serve_errors_total", 'kind="timeout"')
    out: dict = {}
    result: dict = {}

    def killed_mid_message() -> None:
        sock, _ = raw_connection(server.address, spikes)
        sock.sendall(masked_frame(b"\0" * 20, declared=300)[:30])  # 300 bytes announced, a few sent
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # as a killed process's socket: reset

    def slow() -> None:  # one byte every 0.5 s of a frame that never ends: closed when idle too long (3 s)
        sock, pending = raw_connection(server.address, spikes)
        frame = masked_frame(b"\0" * 40)
        data = pending
        start = time.monotonic()
        sock.settimeout(0.5)
        for byte in frame:
            try:
                sock.sendall(bytes([byte]))
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            except socket.timeout:
                continue
            except OSError:
                break
            if b"\x88" in data:
                break
        result["elapsed"] = time.monotonic() - start
        result["data"] = data
        sock.close()

    good = [lambda k=k: good_client(server.address, spikes[k * IMAGES : (k + 1) * IMAGES], out, k) for k in range(2)]
    run_threads(good + [killed_mid_message, slow])
    for res, ids, header, messages, end in out.values():
        check_against_offline(res, ids, header, messages, end)
    ready_then_close = result["data"]
    close = ready_then_close[ready_then_close.index(b"\x88") :]
    code = struct.unpack(">H", close[2:4])[0]
    assert code == P.TIMEOUT and b"no whole image frame within 3 s" in close, close
    assert 2.5 < result["elapsed"] < 15
    deadline = time.monotonic() + 5
    while server.metric("spikecodec_serve_errors_total", 'kind="disconnected"') == killed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.metric("spikecodec_serve_errors_total", 'kind="disconnected"') == killed + 1
    assert server.metric("spikecodec_serve_errors_total", 'kind="timeout"') == timeouts + 1


def test_streams_per_client_limited(spikes):
    config = ServeConfig(tokens=[TOKEN, "other"], max_streams_per_client=2, handshake_timeout=3, workers=1)
    header, messages, end = stream_messages(spikes[:2])
    with serve(config) as running:
        first = ServeClient(running.address, token=TOKEN, header=header)
        second = ServeClient(running.address, token=TOKEN, header=header)
        with pytest.raises(ServeError) as info:
            ServeClient(running.address, token=TOKEN, header=header)
        assert info.value.code == P.TOO_MANY_STREAMS and "2 streams already open" in info.value.reason
        with ServeClient(running.address, token="other", header=header) as other:  # another client's streams count apart
            check_against_offline(other.predict_messages(messages), [0, 1], header, messages, end)
        first.close()
        time.sleep(0.3)
        with ServeClient(running.address, token=TOKEN, header=header) as again:
            assert len(again.predict_messages(messages)) == 2
        second.close()


def test_metrics_and_health_over_http(server):
    text = urllib.request.urlopen(f"http://{server.address}/metrics", timeout=10).read().decode()
    for name in ("spikecodec_serve_images_total", "spikecodec_serve_batches_total", "spikecodec_serve_batch_size_bucket",
                 "spikecodec_serve_latency_seconds_bucket", "spikecodec_serve_streams"):
        assert name in text
    health = json.loads(urllib.request.urlopen(f"http://{server.address}/healthz", timeout=10).read())
    assert health["status"] == "ok" and health["model"] == "snn-resnet-fmnist"


def test_drain_answers_in_flight_then_refuses(spikes):
    config = ServeConfig(tokens=[TOKEN], max_batch=256, max_wait_ms=400, handshake_timeout=3, workers=1)
    header, messages, end = stream_messages(spikes[:30])
    with serve(config) as running:
        client = ServeClient(running.address, token=TOKEN, header=header)
        for i in range(20):
            client.send(i, messages[i])
        time.sleep(0.2)  # read by the server, waiting for their batch
        assert running.metric("spikecodec_serve_images_total") == 0
        draining = threading.Thread(target=running.drain)
        draining.start()
        with pytest.raises(ServeError) as info:
            while True:
                client.receive()
        draining.join(10)
        assert info.value.code == P.GOING_AWAY and "shutting down" in info.value.reason
        assert list(info.value.answered.ids) == list(range(20))
        assert np.array_equal(info.value.answered.classes, offline_logits(header, messages, end)[:20].argmax(1))
        with pytest.raises((ServeError, OSError)):
            ServeClient(running.address, token=TOKEN, header=header)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_drains_then_exits(tmp_path, spikes):
    """The real command under SIGTERM: in-flight images answered, the stream closed with 1001, exit 0."""
    (tmp_path / "tokens").write_text(f"# tokens\n{TOKEN}\n")
    proc, port = serve_command("--token-file", str(tmp_path / "tokens"), "--max-batch", "256", "--max-wait-ms", "500", "--workers", "1",
                               env={**os.environ, "SPIKECODEC_SERVE_WORKERS": "2"})  # the flag wins over the environment
    try:
        workers = children(proc.pid)
        assert len(workers) == 1  # the model worker process: --workers 1
        header, messages, end = stream_messages(spikes[:12])
        client = ServeClient(f"127.0.0.1:{port}", token=TOKEN, header=header)
        for i in range(12):
            client.send(i, messages[i])
        time.sleep(0.2)
        proc.terminate()
        with pytest.raises(ServeError) as info:
            while True:
                client.receive()
        assert info.value.code == P.GOING_AWAY
        assert list(info.value.answered.ids) == list(range(12))
        assert np.array_equal(info.value.answered.classes, offline_logits(header, messages, end)[:12].argmax(1))
        assert proc.wait(20) == 0
        assert not any(alive(pid) for pid in workers)  # the worker ended with the server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def serve_command(*options: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """The real ``spikecodec serve`` on a free loopback port, once its /healthz answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "spikecodec", "serve", "--port", str(port), *options], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                why = proc.stderr.read() if proc.poll() is not None else "no answer within 60 s"
                proc.kill()
                proc.wait()
                pytest.fail(f"spikecodec serve did not start: {why}")
            time.sleep(0.2)


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux)."""
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_killed_server_leaves_no_worker(tmp_path):
    """SIGKILL leaves the server no time to stop its workers: the kernel ends them (no orphan).
    The server's default worker count (1 on up to 2 cores, 2 on more)."""
    proc, port = serve_command("-q")
    try:
        workers = children(proc.pid)
        assert len(workers) == (2 if (os.cpu_count() or 1) > 2 else 1)
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_crashed_worker_is_reported(spikes):
    """The model worker is killed: every stream, and each new one, is closed with 1011 and a
    one-line reason, /healthz says so (503), nothing hangs."""
    config = ServeConfig(tokens=[TOKEN], max_batch=32, max_wait_ms=3, handshake_timeout=3, workers=1)
    with serve(config) as running:
        header, messages, end = stream_messages(spikes[:4])
        clients = [ServeClient(running.address, token=TOKEN, header=header) for _ in range(2)]
        assert len(clients[0].predict_messages(messages[:2])) == 2
        victim = running.service.shards[0].worker.proc
        os.kill(victim.pid, 9)
        for client in clients:
            with pytest.raises(ServeError) as info:
                for i, message in enumerate(messages):  # the stream may end before or while these go
                    client.send(i, message)
                while True:
                    client.receive()
            assert info.value.code == P.INTERNAL and "model worker" in info.value.reason and "SIGKILL" in info.value.reason
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(f"http://{running.address}/healthz", timeout=10)
        health = json.loads(http.value.read())
        assert http.value.code == 503 and health["status"] == "error" and "SIGKILL" in health["error"]
        with pytest.raises(ServeError) as info:
            ServeClient(running.address, token=TOKEN, header=header)
        assert info.value.code == P.INTERNAL and "model worker" in info.value.reason


def self_signed(tmp_path: Path) -> tuple[str, str]:
    """A certificate for localhost and 127.0.0.1, and its key (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls(tmp_path, spikes, images, capsys):
    cert, key = self_signed(tmp_path)
    header, messages, end = stream_messages(spikes[:5])
    with serve(tls=(cert, key)) as running:
        with ServeClient(running.address, token=TOKEN, header=header, tls_ca=cert) as client:
            check_against_offline(client.predict_messages(messages), range(5), header, messages, end)
        with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):  # the system's CAs do not vouch for it
            ServeClient(running.address, token=TOKEN, header=header, tls=True)
        # A plain hello to a TLS server gets no HTTP answer: the error says what to give.
        with pytest.raises(ConnectionError, match="if the server uses TLS, give its certificate"):
            ServeClient(running.address, token=TOKEN, header=header)
        # The command line, over TLS: the edge half here, the predictions as `spikecodec cloud` makes them.
        np.save(tmp_path / "x.npy", images[:6])
        (tmp_path / "tok").write_text(TOKEN + "\n")
        code = main(["edge", "--images", str(tmp_path / "x.npy"), "--connect", running.address, "--token-file", str(tmp_path / "tok"),
                     "--tls-ca", cert, "-o", str(tmp_path / "p.npy")])
        assert code == 0, capsys.readouterr().err
    assert main(["edge", "--images", str(tmp_path / "x.npy"), "-o", str(tmp_path / "f.spk"), "-q"]) == 0
    assert main(["cloud", str(tmp_path / "f.spk"), "-o", str(tmp_path / "p2.npy"), "-q"]) == 0
    assert np.array_equal(np.load(tmp_path / "p.npy"), np.load(tmp_path / "p2.npy"))


def test_client_uses_its_socket_from_one_thread(tmp_path, spikes):
    # websockets' threaded client read the TLS socket in a thread of its own while the caller
    # wrote it; OpenSSL objects are not safe for that, and a connect failed now and then with
    # "[SSL] internal error" (seen in tests/cli/test_help_examples.py). The client starts no thread.
    import threading

    cert, key = self_signed(tmp_path)
    header, messages, end = stream_messages(spikes[:3])
    with serve(tls=(cert, key)) as running:
        before = set(threading.enumerate())
        with ServeClient(running.address, token=TOKEN, header=header, tls_ca=cert) as client:
            started = set(threading.enumerate()) - before
            check_against_offline(client.predict_messages(messages), range(3), header, messages, end)
        assert started == set(), started


def one_line(capsys, code: int, want: int, *fragments: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == want and len(err) == 1 and err[0].startswith("spikecodec: error: "), err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err)


def test_command_line_errors(server, tmp_path, images, capsys):
    np.save(tmp_path / "x.npy", images[:2])
    (tmp_path / "bad").write_text("wrong\n")
    (tmp_path / "empty").write_text("# nothing\n")
    x, out = str(tmp_path / "x.npy"), str(tmp_path / "p.npy")
    one_line(capsys, main(["edge", "--images", x, "--connect", server.address, "--token-file", str(tmp_path / "bad"), "-o", out]),
             1, server.address, "wrong token (close code 4001)")
    one_line(capsys, main(["edge", "--images", x, "--connect", "nohostport", "-o", out]), 2, "--connect", "HOST:PORT")
    one_line(capsys, main(["edge", "--images", x, "--connect", server.address, "-o", str(tmp_path / "p.spk")]), 2, ".npy")
    one_line(capsys, main(["edge", "--images", x, "--connect", server.address, "--batch", "4", "-o", out]), 2, "--batch", "not with --connect")
    one_line(capsys, main(["edge", "--images", x, "--token-file", str(tmp_path / "bad"), "-o", str(tmp_path / "f.spk")]), 2, "only with --connect")
    port = free_port()
    one_line(capsys, main(["edge", "--images", x, "--connect", f"127.0.0.1:{port}", "-o", out]), 1, "127.0.0.1")
    one_line(capsys, main(["serve", "--host", "0.0.0.0", "--port", str(port)]), 2, "--token-file")
    one_line(capsys, main(["serve", "--port", str(port), "--token-file", str(tmp_path / "empty")]), 1, "holds no token")
    one_line(capsys, main(["serve", "--port", str(port), "--tls-cert", x]), 2, "--tls-key")
    one_line(capsys, main(["serve", "--port", server.address.split(":")[1], "-q"]), 1, "in use")
    # Without -q too: the "cloud half at ws://..." line came before the bind, saying it ran.
    one_line(capsys, main(["serve", "--port", server.address.split(":")[1]]), 1, "in use")
    assert not (tmp_path / "p.npy").exists()


def test_import_spikecodec_imports_no_server_stack():
    code = "import sys, spikecodec, spikecodec.serve; print(sorted(m for m in ('torch', 'starlette', 'uvicorn', 'ray') if m in sys.modules))"
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert got.stdout.strip() == "[]"
    # The server's event loop process leaves torch to its model workers.
    code = "import sys, spikecodec.serve.server; print(sorted(m for m in ('torch', 'ray') if m in sys.modules))"
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert got.stdout.strip() == "[]"


def test_client_works_inside_a_running_event_loop(server, spikes):
    # A notebook (or an async app) runs an event loop in the caller's thread, where the client's
    # own loop cannot run: the client then runs it in a helper thread while the caller waits.
    import asyncio

    header, messages, end = stream_messages(spikes[:3])

    async def inside() -> object:
        with ServeClient(server.address, token=TOKEN, header=header) as client:
            return client.predict_messages(messages)

    check_against_offline(asyncio.run(inside()), range(3), header, messages, end)


def test_a_client_of_days_keeps_a_bounded_history_of_answers(monkeypatch):
    """ServeError.answered kept every answer of the client's life: a camera at 30 images a
    second grew by ~145 MB a day. It keeps those of the last ANSWERED_KEPT images (at least)."""
    from spikecodec.serve import client as C

    monkeypatch.setattr(C, "ANSWERED_KEPT", 100)
    client = object.__new__(C.ServeClient)
    client.classes, client._expected, client.answered, client._answered_images = 10, [], [], 0
    frames = iter(P.encode_answers([i, i + 1, i + 2], np.zeros(3, np.int64), np.zeros((3, 10), np.float32))
                  for i in range(0, 3000, 3))
    monkeypatch.setattr(client, "_recv", lambda: next(frames))
    client._expected = list(range(3000))
    got = [client.receive() for _ in range(1000)]
    assert [int(i) for p in got for i in p.ids] == list(range(3000))  # every answer returned as it came
    kept = [int(i) for p in client.answered for i in p.ids]
    assert 100 <= len(kept) < 200 and kept == list(range(3000 - len(kept), 3000))
    assert isinstance(client.answered, list)  # as before: callers slice it

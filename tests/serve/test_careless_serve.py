"""Careless and hostile use of `spikecodec serve`, `spikecodec edge --connect` and ServeClient
that the other serve tests do not cover: odd token and TLS files, addresses that are URLs,
images of another shape, mixing send() with predict(), a closed client, an output folder that
is missing. Random images stand in for the dataset's: only shapes and alignment matter here."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from cli.main import main
from serve_helpers import TOKEN, serve
from spikecodec.serve import ServeClient, parse_address, read_tokens
from spikecodec.serve import protocol as P


@pytest.fixture(scope="module")
def server():
    with serve() as running:
        yield running


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (8, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def header() -> bytes:
    """A header message of the default model's stream (coded from its shipped prior)."""
    from spikecodec.container.link import LinkEncoder
    from spikecodec.models.coinference import load_split, shipped_prior

    _, info = load_split()
    return LinkEncoder(info["code_shape"], prior=shipped_prior(info["model"]), metadata=info).header


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line(capsys, code: int, want: int, *fragments: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == want and len(err) == 1 and err[0].startswith("spikecodec: error: "), (code, err)
    for fragment in fragments:
        assert fragment in err[0], (fragment, err)
    return err[0]


# -- token files ------------------------------------------------------------------------------


def test_token_files_are_read_within_a_bound_and_tokens_fit_a_hello(tmp_path, capsys):
    # A token file was read whole: --token-file /dev/zero grew by gigabytes a second; a token
    # longer than a hello carries was taken and could never be presented.
    big = tmp_path / "big.tok"
    big.write_bytes(b"a" * 40 + b"\n" + b"b" * P.TOKEN_FILE_MAX_BYTES)
    with pytest.raises(ValueError, match="over 1048576 bytes"):
        read_tokens(str(big))
    long = tmp_path / "long.tok"
    long.write_text("short-token\n" + "x" * 5000 + "\n")
    with pytest.raises(ValueError, match="line 2: a token of 5000 bytes"):
        read_tokens(str(long))
    latin = tmp_path / "latin.tok"
    latin.write_bytes(b"tok\xff\n")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        read_tokens(str(latin))
    odd = tmp_path / "odd.tok"  # what was read before still is: CRLF, a BOM, comments, spaces around
    odd.write_bytes(b"\xef\xbb\xbf  one \r\n# two\r\n\r\nthree\rfour\n")
    assert read_tokens(str(odd)) == ["one", "three", "four"]
    port = str(free_port())
    one_line(capsys, main(["serve", "--port", port, "-q", "--token-file", str(big)]), 1, "big.tok", "over 1048576 bytes")


def test_the_client_refuses_a_token_it_cannot_send_before_connecting(header):
    closed = f"127.0.0.1:{free_port()}"  # nothing listens: the old client failed there, or later at the server
    with pytest.raises(ValueError, match="a token of 5000 bytes"):
        ServeClient(closed, token="x" * 5000, header=header)
    with pytest.raises(TypeError, match="token is a str"):  # was json.dumps' "not JSON serializable", once connected
        ServeClient(closed, token=TOKEN.encode(), header=header)
    with pytest.raises(TypeError, match="header is bytes"):
        ServeClient(closed, token=TOKEN, header=header.decode("latin-1"))


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["http://server:8000", "ws://127.0.0.1:8000", "127.0.0.1:\u0661\u0662",
                                     "server/v1:80", "a b:80", "[server:80", "fe80::1::2:80"])
def test_an_address_that_is_no_host_and_port_is_refused(address):
    # 'http://server:8000' passed as host 'http://server' ("Invalid IPv6 URL" when connecting);
    # Arabic-Indic digits passed str.isdigit() and connected to port 12.
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_address(address)


def test_addresses_that_are_host_and_port_still_parse():
    assert parse_address("localhost:8000") == ("localhost", 8000)
    assert parse_address("[::1]:8443") == ("::1", 8443)
    assert parse_address("::1:8443") == ("::1", 8443)
    assert parse_address("server.example.org:1") == ("server.example.org", 1)
    with pytest.raises(TypeError, match="HOST:PORT"):
        parse_address(8000)  # type: ignore[arg-type]


# -- images and the client's own state ----------------------------------------------------------


def test_an_image_of_another_shape_is_refused_here_and_the_stream_goes_on(server, images):
    # An RGB image (3, H, W) for the grayscale model went out as three images: the server ended
    # the whole stream (4007, "more than one image").
    rgb = np.stack([images[:2]] * 3, axis=1)
    with ServeClient(server.address, token=TOKEN) as client:
        with pytest.raises(ValueError, match=r"one image is \(28, 28\) or \(1, 28, 28\).*got shape \(3, 28, 28\)"):
            client.predict(rgb)
        with pytest.raises(ValueError, match=r"got shape \(10, 28\)"):
            client.send_image(5, images[0][:10])
        got = client.predict(images[:3], ids=[20, 21, 22])
    assert list(got.ids) == [20, 21, 22]


def test_an_image_refused_mid_predict_leaves_answers_in_step(server, images):
    # The images sent before the bad one were owed answers; the next predict() returned them
    # first as its own: four predictions for three images, each the one before's.
    with ServeClient(server.address, token=TOKEN) as fresh:
        want = fresh.predict(images[:3])
    with ServeClient(server.address, token=TOKEN) as client:
        with pytest.raises(ValueError, match="one image is"):
            client.predict([images[4], images[5], images[6][:5]])
        got = client.predict(images[:3], ids=[0, 1, 2])
        assert list(got.ids) == [0, 1, 2]
        assert np.array_equal(got.classes, want.classes) and np.allclose(got.logits, want.logits, atol=1e-5)
        with pytest.raises(ValueError, match="fewer ids"):  # ids that ran out: the two sent are taken too
            client.predict(images[:3], ids=[7, 8])
        assert list(client.predict(images[:1], ids=[9]).ids) == [9]


def test_predict_after_send_is_refused_not_given_the_sent_images_answers(server, images):
    with ServeClient(server.address, token=TOKEN) as client:
        client.send_image(1000, images[0])
        with pytest.raises(ValueError, match=r"1 image\(s\) sent with send\(\) wait for answers"):
            client.predict(images[1:3])  # was three predictions for two images, the first id 1000
        assert list(client.receive().ids) == [1000]
        assert list(client.predict(images[1:3], ids=[1, 2]).ids) == [1, 2]


def test_a_closed_client_says_so(server, images):
    with ServeClient(server.address, token=TOKEN) as client:
        client.predict(images[:1])
    with pytest.raises(ValueError, match="this ServeClient is closed"):  # was asyncio's "Event loop is closed"
        client.predict(images[:1])
    with pytest.raises(ValueError, match="this ServeClient is closed"):
        client.receive()
    client.close()  # again: nothing to do


# -- the command line ---------------------------------------------------------------------------


def self_signed(tmp_path, name: str) -> tuple[str, str, str]:
    """A certificate for 127.0.0.1, its key, and the key encrypted with a passphrase (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    paths = [tmp_path / f"{name}_cert.pem", tmp_path / f"{name}_key.pem", tmp_path / f"{name}_key_enc.pem"]
    paths[0].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b"passphrase")))
    return tuple(map(str, paths))  # type: ignore[return-value]


def test_tls_file_problems_name_the_file_at_fault(tmp_path, capsys):
    cert, key, encrypted = self_signed(tmp_path, "a")
    _, other_key, _ = self_signed(tmp_path, "b")
    junk = tmp_path / "junk.pem"
    junk.write_text("not PEM\n")
    port = str(free_port())

    def serve_with(c: str, k: str) -> int:
        return main(["serve", "--port", port, "-q", "--tls-cert", c, "--tls-key", k])

    missing = str(tmp_path / "missing.pem")
    line = one_line(capsys, serve_with(cert, missing), 1, "missing.pem", "No such file")  # was named the certificate
    assert "a_cert.pem" not in line
    one_line(capsys, serve_with(cert, str(tmp_path)), 1, f"{tmp_path}: Is a directory")
    one_line(capsys, serve_with(cert, str(junk)), 1, "junk.pem: is not a PEM private key")
    one_line(capsys, serve_with(str(junk), key), 1, "junk.pem: is not a PEM certificate")
    one_line(capsys, serve_with(cert, other_key), 1, "b_key.pem: is not the private key of the certificate")
    # OpenSSL prompted on the terminal for the passphrase, then said "a_cert.pem: Invalid argument".
    one_line(capsys, serve_with(cert, encrypted), 1, "a_key_enc.pem: is an encrypted (passphrase-protected) private key")
    one_line(capsys, serve_with("/dev/zero", key), 1, "/dev/zero: is not a regular file")


def test_edge_connect_finds_a_missing_output_folder_before_any_image_goes_out(tmp_path, images, capsys):
    # OUT was opened once every image had been answered: a typo in its folder cost the server's
    # work. Nothing listens here: the output's problem is said, not the connection's.
    np.save(tmp_path / "x.npy", images[:2])
    out = tmp_path / "no-such-folder" / "p.npy"
    code = main(["edge", "--images", str(tmp_path / "x.npy"), "--connect", f"127.0.0.1:{free_port()}", "-o", str(out)])
    one_line(capsys, code, 1, "p.npy", "is missing")


def test_edge_connect_failure_leaves_an_earlier_output_whole(server, tmp_path, images, capsys):
    np.save(tmp_path / "x.npy", images[:3])
    (tmp_path / "bad.tok").write_text("not-the-token\n")
    out = tmp_path / "p.npy"
    out.write_bytes(b"earlier")
    code = main(["edge", "--images", str(tmp_path / "x.npy"), "--connect", server.address, "--token-file",
                 str(tmp_path / "bad.tok"), "-o", str(out)])
    one_line(capsys, code, 1, server.address, "wrong token (close code 4001)")
    assert out.read_bytes() == b"earlier" and sorted(p.name for p in tmp_path.iterdir()) == ["bad.tok", "p.npy", "x.npy"]
    (tmp_path / "good.tok").write_text(TOKEN + "\r\n")
    code = main(["edge", "--images", str(tmp_path / "x.npy"), "--connect", server.address, "--token-file",
                 str(tmp_path / "good.tok"), "-o", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    assert np.load(out).shape == (3,)


def test_a_second_ctrl_c_stops_the_server_in_one_line(images):
    # uvicorn raised the second signal again once stopped: asyncio's KeyboardInterrupt cancelled
    # the lifespan task, whose traceback was logged, and the exit status said nothing of it.
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from spikecodec.serve import ServeError

    root = Path(__file__).resolve().parents[2]
    port = free_port()
    # Images wait up to 500 ms for their batch: the drain the first signal begins is still waiting.
    proc = subprocess.Popen([sys.executable, "-m", "spikecodec", "serve", "--port", str(port), "--max-batch", "256",
                             "--max-wait-ms", "500", "--workers", "1"], cwd=root, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "spikecodec serve did not start"
                time.sleep(0.2)
        workers = [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        with ServeClient(f"127.0.0.1:{port}", timeout=20) as client:
            for i in range(5):
                client.send_image(i, images[i])
            os.kill(proc.pid, signal.SIGINT)
            time.sleep(0.1)
            os.kill(proc.pid, signal.SIGINT)
            with pytest.raises(ServeError):
                while True:
                    client.receive()
        assert proc.wait(30) == 128 + signal.SIGINT
        err = proc.stderr.read()
        assert "Traceback" not in err, err
        assert err.strip().splitlines()[-1] == ("spikecodec: error: stopped at once by a second SIGINT: images in flight "
                                               "may not have been answered"), err
        for pid in workers:  # the model worker stopped with the server
            assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_takes_an_ipv6_host_as_a_url_writes_it(capsys):
    # --host [::1] (as --connect takes it) was refused as no loopback address, and with a token
    # file as no host name at all.
    with socket.socket(socket.AF_INET6) as taken:
        taken.bind(("::1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for host in ("[::1]", "::1"):
            one_line(capsys, main(["serve", "--host", host, "--port", port, "-q"]), 1, f"[::1]:{port}: Address already in use")


@pytest.mark.parametrize("host", ["", " ", "[]"])
def test_serve_without_a_host_names_the_option(host, capsys):
    # --host "" was ":PORT: Name or service not known", naming no option.
    one_line(capsys, main(["serve", "--host", host, "--port", str(free_port()), "-q"]), 2, "--host", "no address")


def test_an_empty_message_is_refused_by_the_client(server, header, images):
    # Found by an outside probe: LinkEncoder.encode of no frames gives b""; sent, the server ended
    # the whole stream (4010, "an image frame of 8 bytes ... expected"), the message's emptiness unsaid.
    with ServeClient(server.address, token=TOKEN, header=header) as client:
        with pytest.raises(ValueError, match="image 5: the message is empty"):
            client.send(5, b"")

"""Every example line of every `spikecodec --help` and `spikecodec COMMAND --help` (the "examples:"
section of each EPILOG) runs and does what it says: a new user's first commands must work.

The lines are taken from the help text itself, backslash-continued lines joined, and run in a
folder holding the small input files they name. A line without shell syntax runs in-process
through the real entry point (spikecodec_cli.main.main, a glob expanded as a shell would); a line
with a pipe or a redirection runs in bash, with `spikecodec` and `python` on PATH. Then each output
the line names (-o FILE, --plot FILE, > FILE) must exist and read back, and the lines that claim
something more (a selection, a mean, metadata, an accuracy) are checked for it.

Nothing here reaches another machine. A line that needs a network peer is rewritten with a local
stand-in, and the exact set of such lines is asserted (NETWORK_STAND_INS), so none is skipped
silently: `| nc server 9000` becomes `| cat > received.spk` (what the peer would have received,
then checked), `nc -l 9000 |` becomes `cat feats.spk |` (a stream as the peer would send it),
`curl -s https://host/x.spk |` becomes `cat x.spk |`. `serve` lines run for real as servers
(subprocesses: serve owns the process's signals) on free loopback ports, and every `--connect`
line runs in-process against each served example of the port it names.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import spikecodec
from spikecodec_cli.main import build_parser, main

DATA = Path(spikecodec.__file__).parent / "data"
IMAGES = 4  # images in x.npy, photos/ and the IDX files: enough to show a batch, few enough to be quick
TOKEN = "example-token-0123456789"
SHELL_SYNTAX = {"|", "<", ">", ";", "&&", "||"}


# ----------------------------------------------------------------------------- the examples

def help_text(command: str | None) -> str:
    """What `spikecodec [COMMAND] --help` prints (through the real entry point)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(([command] if command else []) + ["--help"])
        except SystemExit as exc:
            assert exc.code == 0
    return out.getvalue()


def examples(text: str) -> list[str]:
    """The lines of the "examples:" section (up to the first blank line), continuations joined."""
    head, found, rest = text.partition("\nexamples:\n")
    assert found, f"no examples section in:\n{text}"
    lines: list[str] = []
    current = ""
    for line in rest.splitlines():
        if not line.strip():
            break
        current = f"{current} {line.strip()}" if current else line.strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        lines.append(current)
        current = ""
    assert not current, f"an example ends in a backslash: {current!r}"
    return lines


def command_names() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return list(sub.choices)


COMMANDS = command_names()
HELPS = {name: examples(help_text(name)) for name in COMMANDS}
TOP = examples(help_text(None))  # `spikecodec --help`


def words(line: str) -> list[str]:
    return shlex.split(line, comments=True)


def is_server(line: str) -> bool:
    return words(line)[:2] == ["spikecodec", "serve"]


def is_client(line: str) -> bool:
    return "--connect" in words(line)


# Lines whose network part is replaced by a local stand-in: (pattern, replacement), and the exact
# lines this applies to (asserted below, so that a new network example must be added here).
STAND_INS = [
    (r"\| nc \S+ \d+$", "| cat > received.spk"),  # the peer: what it would receive, kept and checked
    (r"^nc -l \d+ \|", "cat feats.spk |"),  # the peer: a stream as it would send it
    (r"^curl -s \S+/(\S+) \|", r"cat \1 |"),  # the server: the file it would serve
]
NETWORK_STAND_INS = {
    "cat spikes.npy | spikecodec encode - -o - | nc server 9000",
    "spikecodec edge --images photos/ --model snn-resnet-fmnist -o - | nc server 9000",
    "nc -l 9000 | spikecodec cloud - -o preds.npy",
    "curl -s https://host/x.spk | spikecodec validate -",
}
# `serve` blocks until stopped and `--connect` needs a server: both run in test_network_examples.
NETWORK_SERVED = {
    "spikecodec serve --port 8000                                    # loopback only, no token",
    "spikecodec serve --host 0.0.0.0 --port 8443 --token-file tokens.txt --tls-cert cert.pem --tls-key key.pem",
    "spikecodec serve --port 8000 --token-file tokens.txt                      # the cloud half as a service",
}
NETWORK_CLIENTS = {
    "spikecodec edge --images x.npy --connect server:8443 --token-file tokens.txt --tls-ca ca.pem -o preds.npy",
    "spikecodec edge --images x.npy --connect server:8000 --token-file tokens.txt -o preds.npy",
    "spikecodec edge --images x.npy --connect host:8000 --token-file tokens.txt -o preds.npy",
}


def local(line: str) -> str:
    """The line with its network peer replaced by a local stand-in (see STAND_INS)."""
    for pattern, replacement in STAND_INS:
        line = re.sub(pattern, replacement, line)
    return line


def test_every_help_has_examples_and_the_network_ones_are_known() -> None:
    every = [line for lines in [TOP, *HELPS.values()] for line in lines]
    assert all(HELPS.values()) and TOP
    assert {line for line in every if local(line) != line} == NETWORK_STAND_INS
    assert {line for line in every if is_server(line)} == NETWORK_SERVED
    assert {line for line in every if is_client(line)} == NETWORK_CLIENTS
    assert not [line for line in every if re.search(r"\b(nc|curl|wget|ssh)\b", local(line))]


# ----------------------------------------------------------------------------- the input files

def write_idx(path: Path, array: np.ndarray) -> None:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    path.write_bytes(gzip.compress(head + array.tobytes()))


def spike_array() -> np.ndarray:
    """T x N x C x H x W: N > 5 for `--select t=0:2,n=5`."""
    rng = np.random.default_rng(3)
    return (rng.random((3, 6, 2, 4, 4)) < 0.3).astype(np.uint8)


def h5_array() -> np.ndarray:
    """feats.h5:/layer3/spikes, N = 20 for `--chunk 1,16`."""
    rng = np.random.default_rng(4)
    return rng.random((2, 20, 2, 4, 4)) < 0.2


def write_certificates(folder: Path) -> None:
    """ca.pem, a CA; cert.pem and key.pem, a certificate it signed for localhost and 127.0.0.1."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def builder(subject: str, issuer: str, key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                .not_valid_after(now + datetime.timedelta(days=1)))

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = builder("example CA", "example CA", ca_key).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    ca = ca.sign(ca_key, hashes.SHA256())
    leaf = builder("localhost", "example CA", key).add_extension(
        x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    leaf = leaf.sign(ca_key, hashes.SHA256())
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))


JQ = '''import json, re, sys
value = json.load(sys.stdin)
for index, key in re.findall(r"\\[(\\d+)\\]|\\.(\\w+)", sys.argv[-1]):
    value = value[int(index)] if index else value.get(key)
print(json.dumps(value))
'''


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the examples name, and bin/ with `spikecodec` and `python` (and `jq` if the
    system has none: a stand-in for the simple paths the examples use)."""
    root = tmp_path_factory.mktemp("help-examples")
    files, bin_dir = root / "files", root / "bin"
    files.mkdir()
    bin_dir.mkdir()
    for name, body in [("spikecodec", f'exec "{sys.executable}" -m spikecodec "$@"'), ("python", f'exec "{sys.executable}" "$@"')]:
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
    if shutil.which("jq") is None:
        (bin_dir / "jq").write_text(f"#!{sys.executable}\n{JQ}")
    for script in bin_dir.iterdir():
        script.chmod(0o755)

    spikes = spike_array()
    np.save(files / "spikes.npy", spikes)
    import h5py

    with h5py.File(files / "feats.h5", "w") as f:
        f.create_dataset("layer3/spikes", data=h5_array())
    (files / "layer3.prior").write_bytes(spikecodec.train_prior([spikes], "ctxmix", chunk=(1,)).data)
    spikecodec.save(files / "spikes.spk", spikes)
    spikecodec.save(files / "x.spk", spikes, chunk=(1,))
    (files / "runs" / "a").mkdir(parents=True)
    spikecodec.save(files / "runs" / "one.spk", spikes[:1])
    spikecodec.save(files / "runs" / "a" / "two.spk", spikes[:2])

    images = np.load(DATA / "fmnist_sample_images.npy")[:IMAGES]
    labels = np.load(DATA / "fmnist_sample_labels.npy")[:IMAGES]
    np.save(files / "x.npy", images)
    write_idx(files / "t10k-images-idx3-ubyte.gz", images)
    write_idx(files / "t10k-labels-idx1-ubyte.gz", labels)
    write_idx(files / "train-images-idx3-ubyte.gz", np.load(DATA / "fmnist_sample_images.npy")[IMAGES:3 * IMAGES])
    from PIL import Image

    (files / "photos").mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image, mode="L").save(files / "photos" / f"{i:03d}.png")
    (files / "tokens.txt").write_text(TOKEN + "\n")
    write_certificates(files)
    return root


def workdir(assets: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    shutil.copytree(assets / "files", folder)
    return folder


def environment(assets: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{assets / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


# ----------------------------------------------------------------------------- running a line

def run_line(line: str, folder: Path, env: dict[str, str], capsys: pytest.CaptureFixture) -> str:
    """Run one example line in ``folder``; it must exit 0 without a traceback. Returns its stdout."""
    argv = words(line)
    if SHELL_SYNTAX & set(argv):
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, f"{line}\nexit {proc.returncode}\n{proc.stderr}"
        return proc.stdout
    assert argv[0] == "spikecodec", line
    args: list[str] = []
    for word in argv[1:]:  # as the shell expands a glob
        args += sorted(glob.glob(word, root_dir=folder)) if glob.has_magic(word) else [word]
    here = os.getcwd()
    os.chdir(folder)
    try:
        code = main(args)
    finally:
        os.chdir(here)
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err, f"{line}\nexit {code}\n{err}"
    return out


def outputs(line: str) -> list[str]:
    """The files a line says it writes: -o FILE, --plot FILE, > FILE."""
    argv = words(line)
    return [b for a, b in zip(argv, argv[1:]) if a in ("-o", "--output", "--plot", ">") and b != "-"]


def priors_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.prior"))


def check_output(path: Path, folder: Path) -> None:
    """The file exists and reads back as what its name says."""
    assert path.is_file() and path.stat().st_size > 0, path
    if path.suffix == ".spk":
        report = spikecodec.validate(path, priors=priors_in(folder))
        assert report.ok, (path, report)
        with spikecodec.open(path, priors=priors_in(folder)) as r:
            r.read()
    elif path.suffix == ".npy":
        np.load(path)
    elif path.suffix == ".h5":
        import h5py

        with h5py.File(path) as f:
            f["spikes"][()]
    elif path.suffix == ".prior":
        spikecodec.load_prior(path)
    elif path.suffix == ".png":
        assert path.read_bytes().startswith(b"\x89PNG")
    else:
        raise AssertionError(f"an example writes {path.name}: say here how to check it")


# ----------------------------------------------------------------------------- what lines claim

def read(path: Path, folder: Path) -> np.ndarray:
    with spikecodec.open(path, priors=priors_in(folder)) as r:
        return r.read()


def claim_selection(folder: Path, out: str) -> None:
    import h5py

    with h5py.File(folder / "first_two_steps.h5") as f:
        np.testing.assert_array_equal(f["spikes"][()], spike_array()[0:2, 5])


def claim_metadata(folder: Path, out: str) -> None:
    with spikecodec.open(folder / "feats.spk") as r:
        assert r.metadata == {"model": "resnet18", "split": 3, "dt": 0.001}
        assert r.axes == tuple("TNCHW") and r.chunk_shape == (1, 16) and r.codec[-1] == {"id": "zstd", "level": 19}
        np.testing.assert_array_equal(r.read(), h5_array())


def claim_prior(folder: Path, out: str) -> None:
    with spikecodec.open(folder / "spikes.spk", priors=[folder / "layer3.prior"]) as r:
        assert r.records == "compact" and r.codec[-1]["id"] == "ctxmix" and r.chunk_shape == (1,)
        assert r.prior.digest == spikecodec.load_prior(folder / "layer3.prior").digest
        np.testing.assert_array_equal(r.read(), spike_array())


def claim_predictions(folder: Path, out: str) -> None:
    predicted = np.load(folder / "preds.npy")
    assert predicted.dtype == np.int64 and predicted.shape == (IMAGES,)


def claim_accuracy(folder: Path, out: str) -> None:
    claim_predictions(folder, out)
    assert re.search(rf"accuracy [\d.]+ \(\d+ of {IMAGES}\)", out), out


def claim_images(name: str, batch: int | None = None, prior: bool = True, count: int = IMAGES) -> Callable[[Path, str], None]:
    def check(folder: Path, out: str) -> None:
        with spikecodec.open(folder / name, priors=priors_in(folder)) as r:
            assert r.axes == tuple("NTCHW") and r.shape[0] == count and r.metadata["model"] == "snn-resnet-fmnist"
            assert (r.prior is not None) == prior
            if batch is not None:
                assert r.chunk_shape == (min(batch, IMAGES),)  # one chunk per batch, no longer than the stream
    return check


def claim_recovered(folder: Path, out: str) -> None:
    """fixed.spk holds the complete rows before the cut (see prepare): the first two of three."""
    np.testing.assert_array_equal(read(folder / "fixed.spk", folder), spike_array()[:2])
    (folder / "fixed.spk").unlink()  # the next example writes it again


# (a fragment of the example line, its check): every fragment must match a line (asserted).
CLAIMS: list[tuple[str, Callable[[Path, str], None]]] = [
    ("encode spikes.npy -o spikes.spk", lambda d, o: np.testing.assert_array_equal(read(d / "spikes.spk", d), spike_array())),
    ("| cat > received.spk", lambda d, o: read(d / "received.spk", d)),
    ("feats.h5:/layer3/spikes", claim_metadata),
    ("--records compact", claim_prior),
    ("decode spikes.spk -o spikes.npy", lambda d, o: np.testing.assert_array_equal(np.load(d / "spikes.npy"), spike_array())),
    ("first_two_steps.h5 --select t=0:2,n=5", claim_selection),
    ("--dtype float32 | python", lambda d, o: pytest.approx(spike_array().mean()) == float(o)),
    ("jq .firing_rate.overall", lambda d, o: pytest.approx(spike_array().mean()) == float(o)),
    ("inspect spikes.spk", lambda d, o: None),
    ("jq '.[0].end_to_end.file_bytes_per_image'", lambda d, o: float(o) > 0),
    ("spikecodec models", lambda d, o: None),
    ("validate spikes.spk", lambda d, o: o.startswith("spikes.spk: OK")),
    ("validate *.spk --json", lambda d, o: json.loads(o)["ok"] and len(json.loads(o)["files"]) == len(list(d.glob("*.spk")))),
    ("validate runs/", lambda d, o: "runs/a/two.spk: OK" in o and "runs/one.spk: OK" in o),
    ("validate -", lambda d, o: o.startswith("<stdin>: OK")),
    ("recover", claim_recovered),
    ("--labels t10k-labels-idx1-ubyte.gz", claim_accuracy),
    ("cloud - -o preds.npy", claim_predictions),
    ("edge --images t10k-images-idx3-ubyte.gz -o feats.spk", claim_images("feats.spk", batch=1)),
    ("--images photos/ --model snn-resnet-fmnist -o - | cat > received.spk", claim_images("received.spk")),
    ("--batch 256 --prior none", claim_images("feats.spk", batch=256, prior=False)),
    ("-o train.spk --prior none", claim_images("train.spk", prior=False, count=2 * IMAGES)),
    ("train-prior train.spk -o my-model.prior", lambda d, o: spikecodec.load_prior(d / "my-model.prior").codec == "ctxmix"),
    ("--prior my-model.prior", lambda d, o: read(d / "feats.spk", d).shape[0] == IMAGES),
    ("--meta split=layer2", lambda d, o: spikecodec.load_prior(d / "layer2.prior").info["split"] == "layer2"),
]


def check_claims(line: str, folder: Path, out: str) -> None:
    for fragment, check in CLAIMS:
        if fragment in line:
            assert check(folder, out) is not False, (line, out)


def prepare(command: str | None, folder: Path, capsys: pytest.CaptureFixture) -> None:
    """Files some commands' examples read that an earlier command makes: a cloud's stream comes
    from `spikecodec edge`, a recovery's damaged file from a cut one."""
    if command is None:  # `spikecodec train-prior train.spk -o my.prior`
        assert main(["edge", "--images", str(folder / "x.npy"), "-o", str(folder / "train.spk"), "--prior", "none", "-q"]) == 0
    if command == "cloud":
        assert main(["edge", "--images", str(folder / "x.npy"), "-o", str(folder / "feats.spk"), "-q"]) == 0
    if command == "recover":
        spikecodec.save(folder / "whole.spk", spike_array(), chunk=(1,))
        whole = (folder / "whole.spk").read_bytes()
        with spikecodec.open(folder / "whole.spk") as r:  # cut inside the last chunk: its row is lost
            cut = r.entries[-1].offset + 3
        for name in ("crashed.spk", "partial.spk"):
            (folder / name).write_bytes(whole[:cut])
    capsys.readouterr()


# ----------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("command", [None, *COMMANDS], ids=["spikecodec", *COMMANDS])
def test_examples_run_and_do_what_they_say(command: str | None, assets: Path, tmp_path: Path, capsys) -> None:
    """Each of the help's lines, in order (a later line may read what an earlier one wrote), in a
    folder of its own. The top-level help's lines that a command's help also shows (but for a
    comment) run there."""
    lines = TOP if command is None else HELPS[command]
    if command is None:
        every = {tuple(words(line)) for lines in HELPS.values() for line in lines}
        lines = [line for line in lines if tuple(words(line)) not in every]
    folder = workdir(assets, tmp_path)
    env = environment(assets)
    prepare(command, folder, capsys)
    for line in lines:
        if line in NETWORK_SERVED or line in NETWORK_CLIENTS:
            continue  # test_network_examples
        runnable = local(line)
        out = run_line(runnable, folder, env, capsys)
        for name in outputs(runnable):
            check_output(folder / name, folder)
        check_claims(runnable, folder, out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A serve example running (a subprocess: serve handles SIGTERM itself) on a free port instead
    of the one it names; stopped with SIGTERM as the help describes, which must exit 0. All start
    at once (each loads torch and a model worker: seconds)."""

    def __init__(self, line: str, folder: Path, env: dict[str, str]) -> None:
        self.line, self.port = line, free_port()
        argv = words(re.sub(r"--port \d+", f"--port {self.port}", line))
        self.tls = "--tls-cert" in argv
        self.context = ssl.create_default_context(cafile=str(folder / "ca.pem")) if self.tls else None
        self.proc = subprocess.Popen([sys.executable, "-m", "spikecodec", *argv[1:]], cwd=folder, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_up(self) -> None:
        """Until /healthz says ok."""
        url = f"{'https' if self.tls else 'http'}://{'localhost' if self.tls else '127.0.0.1'}:{self.port}/healthz"
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"{self.line}\nexit {self.proc.returncode}\n{self.proc.communicate()[1]}"
            assert time.monotonic() < deadline, f"{self.line}: not up after 60 s"
            try:
                with urllib.request.urlopen(url, timeout=2, context=self.context) as answer:
                    assert json.load(answer)["status"] == "ok"
                    return
            except OSError:
                time.sleep(0.05)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def test_network_examples(assets: Path, tmp_path: Path, capsys) -> None:
    """Each serve line serves, on a free port instead of the one it names; each --connect line
    runs against every served line of the port it names (127.0.0.1 and the free port instead of
    its server:PORT) and writes the predictions the cloud half makes offline."""
    folder = workdir(assets, tmp_path)
    env = environment(assets)
    every = [line for lines in [TOP, *HELPS.values()] for line in lines]
    clients = [line for line in dict.fromkeys(every) if is_client(line)]
    servers: list[Served] = []
    try:
        servers = [Served(line, folder, env) for line in dict.fromkeys(every) if is_server(line)]
        assert main(["edge", "--images", str(folder / "x.npy"), "-o", str(folder / "offline.spk"), "-q"]) == 0
        assert main(["cloud", str(folder / "offline.spk"), "-o", str(folder / "offline.npy"), "-q"]) == 0
        expected = np.load(folder / "offline.npy")
        connected = set()
        for server in servers:
            server.wait_up()
            named = re.search(r"--port (\d+)", server.line).group(1)
            for client in clients:
                if re.search(r"--connect \S+:(\d+)", client).group(1) != named:
                    continue
                runnable = re.sub(r"--connect \S+:\d+", f"--connect 127.0.0.1:{server.port}", client)
                (folder / "preds.npy").unlink(missing_ok=True)
                run_line(runnable, folder, env, capsys)
                np.testing.assert_array_equal(np.load(folder / "preds.npy"), expected)
                connected.add(client)
        assert connected == set(clients), "a --connect example names a port no serve example listens on"
    finally:
        errors = [(server, server.stop()) for server in servers]
    for server, err in errors:
        assert server.proc.returncode == 0 and "Traceback" not in err, f"{server.line}\nexit {server.proc.returncode}\n{err}"
        if "loopback only, no token" in server.line:
            assert f"ws://127.0.0.1:{server.port}/v1/stream (no token)" in err, err


def test_every_claim_matches_an_example() -> None:
    """A CLAIMS fragment that no (runnable) example line holds would check nothing."""
    every = [local(line) for lines in [TOP, *HELPS.values()] for line in lines]
    assert [fragment for fragment, _ in CLAIMS if not any(fragment in line for line in every)] == []

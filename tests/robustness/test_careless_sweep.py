"""What a careless or hostile user still got wrong answers to (a sweep of the command line and the
library by kind of mistake): each case is now one clear error - a usage error naming the option
for a bad option, a TypeError or ValueError saying what was expected for a bad argument - or
the right result, never a traceback, a silently different selection or a file named "-"."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec_cli.main import main

SPIKES = (np.random.default_rng(5).random((3, 2, 4, 5, 5)) < 0.3).astype(np.uint8)


def run(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def usage_error(args: list[object], option: str, *fragments: str) -> str:
    code, _, err = run(*args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"spikecodec: error: {option}: "), (code, err)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)
    return lines[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    np.save(tmp_path / "x.npy", SPIKES)
    spikecodec.save(tmp_path / "x.spk", SPIKES, chunk=1, codec="raw")
    return tmp_path


# --- the command line ----------------------------------------------------------------------------


def test_decode_a_single_element_to_h5(work: Path) -> None:
    # Every axis selected by one index gives a 0-d array: HDF5 refused the compression filters
    # of a scalar dataset, and the TypeError came out as a traceback.
    import h5py
    code, _, err = run("decode", work / "x.spk", "-o", work / "one.h5", "--select", "t=1,n=0,c=3,h=2,w=4", "-q")
    assert code == 0, err
    with h5py.File(work / "one.h5") as f:
        assert f["spikes"][()] == SPIKES[1, 0, 3, 2, 4] and f["spikes"].shape == ()


def test_select_refuses_an_axis_twice_and_a_zero_step(work: Path) -> None:
    # t=0,t=1 decoded t=1 alone (the last one won, silently); a step of 0 was blamed on the file
    # (exit 1, "x.spk: slice step cannot be zero").
    usage_error(["decode", work / "x.spk", "-o", work / "o.npy", "--select", "t=0,t=1"], "--select", "'T' is selected twice")
    usage_error(["decode", work / "x.spk", "-o", work / "o.npy", "--select", "T=0,t=0:2"], "--select", "selected twice")
    usage_error(["decode", work / "x.spk", "-o", work / "o.npy", "--select", "t=0:2:0"], "--select", "'0:2:0'")
    assert not (work / "o.npy").exists()
    code, _, err = run("decode", work / "x.spk", "-o", work / "o.npy", "--select", "t=::-1,n=1", "-q")
    assert code == 0, err
    np.testing.assert_array_equal(np.load(work / "o.npy"), SPIKES[::-1, 1])


def test_decode_dtype_counts_against_max_bytes_as_the_library_does(work: Path) -> None:
    # spikecodec.load(dtype=float32, max_bytes=N) counts the float32 result beside its uint8;
    # `decode --dtype float32 --max-bytes N` counted the uint8 alone and made 5x the bytes.
    spikecodec.save(work / "k.spk", np.ones((10, 100, 10), np.uint8), codec="raw")
    with pytest.raises(spikecodec.LimitError):
        spikecodec.load(work / "k.spk", dtype=np.float32, max_bytes=10_000)
    for select in ([], ["--select", "t=0:10"]):
        code, _, err = run("decode", work / "k.spk", "-o", work / "k.npy", "--dtype", "float32", "--max-bytes", "10000", *select)
        assert code == 3 and "the array as float32 decodes to 50000 bytes" in err, err
    assert not (work / "k.npy").exists()
    code, _, err = run("decode", work / "k.spk", "-o", work / "k.npy", "--dtype", "float32", "--max-bytes", "50000", "-q")
    assert code == 0 and np.load(work / "k.npy").dtype == np.float32, err


def test_codec_json_is_parsed_as_strictly_as_every_json_text(work: Path) -> None:
    # Deep nesting was a RecursionError blamed on no option (exit 1); NaN was taken by json.loads.
    usage_error(["encode", work / "x.npy", "-o", work / "o.spk", "--codec", "[" * 100_000], "--codec", "nested too deeply")
    usage_error(["encode", work / "x.npy", "-o", work / "o.spk", "--codec", '{"id": "zstd", "level": NaN}'], "--codec", "NaN")
    usage_error(["encode", work / "x.npy", "-o", work / "o.spk", "--codec", '{"id": "zstd", "id": "raw"}'], "--codec", "twice")
    assert not (work / "o.spk").exists()
    code, _, err = run("encode", work / "x.npy", "-o", work / "o.spk", "--codec", '{"id": "zstd", "level": 3}', "-q")
    assert code == 0, err


def test_meta_that_is_not_utf8_is_the_options_fault(work: Path) -> None:
    # `--meta $'name=\xff'`: Python reads the byte as a surrogate, which no JSON text can hold;
    # the failure was blamed on the input file (exit 1).
    line = usage_error(["encode", work / "x.npy", "-o", work / "o.spk", "--meta", "name=caf\udce9"], "--meta", "not UTF-8")
    assert "x.npy" not in line and not (work / "o.spk").exists()


def test_meta_keys_given_twice_are_refused(work: Path) -> None:
    # `--meta split=3 split=4` kept split=4 silently; a repeated key is refused in every JSON text.
    usage_error(["encode", work / "x.npy", "-o", work / "o.spk", "--meta", "split=3", "model=m", "split=4"], "--meta",
                "appears twice: 'split'")
    assert not (work / "o.spk").exists()


def test_edge_meta_cannot_rename_the_model(work: Path) -> None:
    # `edge --meta model=x` replaced the model's own key in the stream's metadata: `cloud` then
    # looked for a model named x ("unknown model") or, given a shipped name, ran the wrong one.
    images = np.random.default_rng(1).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    np.save(work / "img.npy", images)
    usage_error(["edge", "--images", work / "img.npy", "-o", work / "e.spk", "--meta", "model=other"], "--meta",
                "'model' is the model's own")
    assert not (work / "e.spk").exists()
    code, _, err = run("edge", "--images", work / "img.npy", "-o", work / "e.spk", "--meta", "site=lab", "-q")
    assert code == 0, err
    assert spikecodec.open(work / "e.spk").metadata["site"] == "lab"
    with pytest.raises(ValueError, match="'split' is the model's own"):
        from spikecodec.models.coinference import EdgeEncoder

        EdgeEncoder(metadata={"split": "elsewhere"})


def test_file_names_that_are_not_utf8_go_into_metadata_replaced(work: Path) -> None:
    # train-prior keeps its samples' names in the prior: a name of non-UTF-8 bytes made the
    # write fail ("'utf-8' codec can't encode character '\udcff'"), blamed on the output.
    name = work / os.fsdecode(b"caf\xe9.spk")
    spikecodec.save(name, SPIKES, chunk=1)
    code, _, err = run("train-prior", name, "-o", work / "p.prior", "-q")
    assert code == 0, err
    prior = spikecodec.prior.load_prior(work / "p.prior")
    assert prior.info["samples"] == [str(work / "caf\ufffd.spk")]


def test_plot_to_dash_is_refused(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `inspect x.spk --plot -` wrote the PNG to a file named "-" in the working folder.
    monkeypatch.chdir(work)
    usage_error(["inspect", "x.spk", "--plot", "-"], "--plot", "standard output")
    assert not (work / "-").exists()


def test_an_output_name_ending_in_a_slash_is_a_folder(work: Path) -> None:
    # `-o new/` wrote a file named "new" (realpath drops the slash); `-o x.npy/` replaced x.npy.
    for args in (["encode", work / "x.npy", "-o", f"{work / 'new'}/"], ["decode", work / "x.spk", "-o", f"{work / 'x.npy'}/"],
                 ["inspect", work / "x.spk", "--plot", f"{work / 'plot'}/"]):
        code, _, err = run(*args)
        assert code in (1, 2) and len(err.strip().splitlines()) == 1 and ("/: " in err or "name the file .png" in err), err
    assert not (work / "new").exists() and not (work / "plot").exists()
    np.testing.assert_array_equal(np.load(work / "x.npy"), SPIKES)
    with pytest.raises(OSError, match="ends in '/' but is no folder"):
        spikecodec.save(f"{work / 'x.npy'}/", SPIKES)
    np.testing.assert_array_equal(np.load(work / "x.npy"), SPIKES)
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("option", ["--max-wait-ms", "--idle-timeout"])
def test_serve_refuses_nan_times(option: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # NaN passed the `< 0` / `<= 0` checks: the server started, and its batches never timed out.
    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server was started")

    monkeypatch.setattr("spikecodec.serve.server.run_server", started)
    usage_error(["serve", "--port", "18765", option, "nan"], option, "positive number" if option == "--idle-timeout" else "from 0 to under")
    if option == "--max-wait-ms":  # nor one that a batch waits past every client's timeout
        usage_error(["serve", "--port", "18765", option, "inf"], option, "from 0 to under --idle-timeout")
        usage_error(["serve", "--port", "18765", option, "40000"], option, "from 0 to under --idle-timeout (30 s)")


def test_stdin_named_twice_is_refused(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `validate - -` reported the second read of stdin (empty) as a file that does not conform.
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((work / "x.spk").read_bytes())))
    usage_error(["validate", "-", work / "x.spk", "-"], "-", "read once")


@pytest.mark.parametrize("command", ["encode", "recover"])
def test_a_reader_that_goes_away_is_quiet_for_every_command(work: Path, command: str) -> None:
    # `spikecodec encode x.npy -o - | head -c 10`: decode stopped quietly, but encode, recover
    # and edge (which name their output's errors themselves) printed "<stdout>: Broken pipe".
    big = (np.random.default_rng(1).random((4, 64, 16, 16, 16)) < 0.2).astype(np.uint8)  # 128 KiB raw: more than a pipe holds
    np.save(work / "big.npy", big)
    spikecodec.save(work / "big.spk", big, chunk=1, codec="raw")
    args = {"encode": ["encode", work / "big.npy", "-o", "-", "--codec", "raw"], "recover": ["recover", work / "big.spk", "-o", "-"]}
    proc = subprocess.Popen([sys.executable, "-m", "spikecodec", *map(str, args[command])], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and err == b"", err


# --- the library ---------------------------------------------------------------------------------


def test_text_mode_file_objects_are_a_type_error_saying_so(work: Path) -> None:
    # Reading one raised UnicodeDecodeError ("can't decode byte 0x8a"), writing one TypeError
    # ("write() argument must be str, not bytes").
    with open(work / "x.spk") as text:
        for read in (spikecodec.load, spikecodec.open, spikecodec.SpikeStream, spikecodec.validate):
            with pytest.raises(TypeError, match="a text one .*open it with 'rb'"):
                read(text)
    with open(work / "t.spk", "w") as text:
        with pytest.raises(TypeError, match="open it with 'wb'"):
            spikecodec.save(text, SPIKES)
    for sink in (io.StringIO(), open(work / "t.spk", "w")):
        with sink, pytest.raises(TypeError, match="open it with 'wb'"):
            spikecodec.SpikeWriter(sink)
    assert (work / "t.spk").stat().st_size == 0
    with open(work / "x.spk", "rb") as binary:  # binary ones still work
        np.testing.assert_array_equal(spikecodec.load(binary), SPIKES)


@pytest.mark.parametrize("bits", [0, 2.0, True, "2"])
def test_element_bits_are_checked_as_integers(bits: object) -> None:
    # 2.0 was a TypeError ("unsupported operand type(s) for <<"), 0 was taken as 1 bit.
    with pytest.raises(ValueError, match="element bits must be one of"):
        spikecodec.encode(SPIKES, bits=bits)
    with pytest.raises(ValueError, match="element bits must be one of"):
        spikecodec.SpikeWriter(io.BytesIO(), bits=bits)
    np.testing.assert_array_equal(spikecodec.decode(spikecodec.encode(SPIKES, bits=np.int64(2))), SPIKES)


def test_writer_length_is_a_count() -> None:
    # length=1.5 was struct.error ("required argument is not an integer"); True was one frame.
    for length in (1.5, True, -1, "3"):
        with pytest.raises(ValueError, match="length must be an integer of at least 0"):
            spikecodec.SpikeWriter(io.BytesIO(), length=length)
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, length=np.int32(3)) as w:
        w.write_frames(SPIKES)
    np.testing.assert_array_equal(spikecodec.decode(buf.getvalue()), SPIKES)


def test_bfloat16_tensors_encode() -> None:
    # "torch tensors work too", but a bfloat16 one raised TypeError (numpy has no bfloat16).
    import torch
    tensor = torch.from_numpy(SPIKES).to(torch.bfloat16)
    np.testing.assert_array_equal(spikecodec.decode(spikecodec.encode(tensor)), SPIKES)
    with pytest.raises(ValueError, match="not a whole number"):
        spikecodec.encode(tensor / 2)


# --- second sweep --------------------------------------------------------------------------------


def test_level_for_a_codec_without_one_is_the_level_options_fault(work: Path) -> None:
    # --level with winmix (or raw) showed Python's "__init__() got an unexpected keyword argument"
    # under --codec; the registry now names the parameter and the codec's own, for the API too.
    args = ["encode", work / "x.npy", "-o", work / "y.spk"]
    usage_error([*args, "--codec", "winmix", "--level", "3"], "--level", "codec 'winmix'", "no parameter 'level'", "prior")
    usage_error([*args, "--codec", "raw", "--level", "3"], "--level", "codec 'raw'", "no parameter 'level'")
    usage_error([*args, "--codec", "zstd", "--level", "30"], "--level", "-7..22")
    usage_error([*args, "--codec", '{"id": "zstd", "speed": 1}', "--level", "3"], "--codec", "no parameter 'speed'")
    assert not (work / "y.spk").exists()
    with pytest.raises(ValueError, match="codec 'winmix': bad parameters .* no parameter 'level' \\(its parameters: prior\\)"):
        spikecodec.encode(SPIKES, codec={"id": "winmix", "level": 3})
    assert run(*args, "--codec", "raw,zstd", "--level", "5", "-q")[0] == 0


def test_cloud_refuses_labels_of_no_class(work: Path) -> None:
    # Labels of -1 or 10 (of 10 classes) were compared as they were: a silently wrong accuracy.
    from spikecodec.models.coinference import edge_encode

    data = Path(spikecodec.__file__).parent / "data"
    images, labels = np.load(data / "fmnist_sample_images.npy")[:3], np.load(data / "fmnist_sample_labels.npy")[:3].astype(np.int64)
    (work / "e.spk").write_bytes(edge_encode(images))
    for index, value in ((1, -1), (2, 10), (0, 2**63 + 5)):
        bad = labels.astype(np.uint64 if value > 0 else np.int64)
        bad[index] = value
        np.save(work / "l.npy", bad)
        code, out, err = run("cloud", work / "e.spk", "-o", work / "p.npy", "--labels", work / "l.npy", "-q")
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1 and f"l.npy: labels[{index}] is {value}: labels are class numbers" in lines[0], err
        assert not (work / "p.npy").exists()
    np.save(work / "l.npy", labels[:2])
    code, _, err = run("cloud", work / "e.spk", "--labels", work / "l.npy", "-q")
    assert code == 1 and "2 labels for 3 images" in err, err
    np.save(work / "l.npy", labels)
    code, out, err = run("cloud", work / "e.spk", "--labels", work / "l.npy", "-q")
    assert code == 0 and "accuracy" in out, err


def test_bool_is_refused_for_counts_it_cannot_hold(work: Path) -> None:
    # dtype=bool turned counts into "any spike" (3 -> True) while int8 refused a count of 200.
    counts = np.array([[0, 1], [3, 0]], np.uint8)
    spikecodec.save(work / "c.spk", counts, codec="raw")
    with pytest.raises(OverflowError, match="c.spk: values up to 3 do not fit bool"):
        spikecodec.load(work / "c.spk", dtype=bool)
    usage_error(["decode", work / "c.spk", "-o", work / "c.npy", "--dtype", "bool"], "--dtype", "c.spk", "do not fit bool")
    assert not (work / "c.npy").exists()
    np.testing.assert_array_equal(spikecodec.load(work / "x.spk", dtype=bool), SPIKES.astype(bool))  # 1-bit spikes
    spikecodec.save(work / "w.spk", counts.clip(0, 1), bits=2, codec="raw")  # 2-bit elements of 0 and 1 fit
    np.testing.assert_array_equal(spikecodec.load(work / "w.spk", dtype=bool), counts.astype(bool))


def test_masked_arrays_are_refused(work: Path) -> None:
    # np.asarray dropped the mask: the values under it were coded as spikes.
    masked = np.ma.masked_array(SPIKES * 7, mask=SPIKES == 1)
    from spikecodec.integrations.numcodecs import SpikeCodec

    calls = (lambda: spikecodec.save(work / "m.spk", masked), lambda: spikecodec.encode(masked), lambda: SpikeCodec().encode(masked),
             lambda: SpikeCodec(framing="message").encode(masked))
    for call in calls:
        with pytest.raises(TypeError, match=r"masked array.*a\.filled\(0\)"):
            call()
    assert not (work / "m.spk").exists()
    np.testing.assert_array_equal(spikecodec.decode(spikecodec.encode(masked.filled(0))), masked.filled(0))


def test_recover_and_edge_refuse_an_array_name_as_encode_does(work: Path) -> None:
    # They wrote a spike file under a .npy name (edge: without --connect), which encode refuses.
    np.save(work / "im.npy", np.zeros((1, 28, 28), np.uint8))
    for args in (["recover", work / "x.spk", "-o", work / "r.npy"], ["encode", work / "x.npy", "-o", work / "r.npy"],
                 ["edge", "--images", work / "im.npy", "-o", work / "r.npy"], ["recover", work / "x.spk", "-o", work / "r.h5"]):
        code, _, err = run(*args)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and "writes a spike file (.spk)" in lines[0], (args, err)
        assert not (work / "r.npy").exists() and not (work / "r.h5").exists()


def test_decode_writes_through_a_device_or_fifo_as_npy(work: Path) -> None:
    # README: a device or FIFO is written through; decode -o /dev/null was "unknown output format".
    code, _, err = run("decode", work / "x.spk", "-o", os.devnull, "-q")
    assert code == 0, err
    import threading

    fifo = work / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run("decode", work / "x.spk", "-o", fifo, "-q")
    reader.join(10)
    assert code == 0 and got, err
    np.testing.assert_array_equal(np.load(io.BytesIO(got[0])), SPIKES)
    usage = run("decode", work / "x.spk", "-o", work / "x.txt")
    assert usage[0] == 2 and "unknown output format" in usage[2]


def test_spike_writer_writes_through_a_device_and_a_dangling_link(work: Path) -> None:
    # /dev/null says it is seekable, and its truncation failed with a bare "[Errno 22]"; a
    # dangling link was "No such file" where save() and open(path, "wb") create its target.
    with spikecodec.SpikeWriter(os.devnull) as w:
        w.append(SPIKES[0])
    link = work / "link.spk"
    link.symlink_to("made.spk")
    with spikecodec.SpikeWriter(link) as w:
        w.append(SPIKES[0])
    assert link.is_symlink() and (work / "made.spk").is_file()
    np.testing.assert_array_equal(spikecodec.load(link), SPIKES[:1])


def test_an_empty_output_name_is_no_file(work: Path) -> None:
    with pytest.raises(OSError, match="an empty name names no file"):
        spikecodec.save("", SPIKES)
    code, _, err = run("encode", work / "x.npy", "-o", "")
    assert code != 0 and "empty name" in err and len(err.strip().splitlines()) == 1, err


def test_an_output_naming_the_prior_is_refused_as_any_input(work: Path) -> None:
    # Before: `encode a.npy -o p.prior --prior p.prior` replaced the prior with a spike file that
    # needed it to decode: both were lost. decode, recover, train-prior and inspect --plot too.
    code, _, err = run("train-prior", work / "x.npy", "-o", work / "p.prior", "-q")
    assert code == 0, err
    prior = (work / "p.prior").read_bytes()
    code, _, err = run("encode", work / "x.npy", "-o", work / "e.spk", "--codec", "ctxmix", "--prior", work / "p.prior", "-q")
    assert code == 0, err
    for name in ("p.npy", "p.spk", "p.prior", "p.png"):
        (work / name).write_bytes(prior)
    for args in (["encode", work / "x.npy", "-o", work / "p.prior", "--codec", "ctxmix", "--prior", work / "p.prior"],
                 ["decode", work / "e.spk", "-o", work / "p.npy", "--prior", work / "p.npy"],
                 ["recover", work / "e.spk", "-o", work / "p.spk", "--prior", work / "p.spk"],
                 ["train-prior", work / "e.spk", "-o", work / "p.prior", "--prior", work / "p.prior"],
                 ["inspect", work / "e.spk", "--plot", work / "p.png", "--prior", work / "p.png"]):
        code, _, err = run(*args)
        assert code == 1 and "is also an input" in err and len(err.strip().splitlines()) == 1, (args, err)
    assert all((work / n).read_bytes() == prior for n in ("p.npy", "p.spk", "p.prior", "p.png"))


def test_metadata_nested_as_deep_as_a_reader_takes_reads_back_from_any_depth(work: Path) -> None:
    # Before: a header copy recursed two frames a level, so a file with metadata 500 deep (the
    # writer takes 511) failed decode, inspect and validate with "maximum recursion depth".
    deep = "[" * 511 + "]" * 511
    code, _, err = run("encode", work / "x.npy", "-o", work / "deep.spk", "--meta", f"a={deep}", "-q")
    assert code == 0, err
    for args in (["decode", work / "deep.spk", "-o", work / "d.npy", "-q"], ["inspect", work / "deep.spk"],
                 ["validate", work / "deep.spk"]):
        code, _, err = run(*args)
        assert code == 0, (args, err)

    def from_deep_in_a_stack(n: int) -> bool:  # a caller 600 frames deep: the JSON parser's own recursion
        return from_deep_in_a_stack(n - 1) if n else spikecodec.validate(work / "deep.spk").ok
    assert from_deep_in_a_stack(600)


def test_plot_names_a_png_and_error_lines_escape_control_characters(work: Path) -> None:
    (work / "other.npy").write_bytes(b"keep")
    code, _, err = run("inspect", work / "x.spk", "--plot", work / "other.npy")
    assert code == 2 and "name the file .png" in err and (work / "other.npy").read_bytes() == b"keep", err
    bad = work / "bad\nname\x1b[31m.npy"
    bad.write_bytes(b"junk")
    code, _, err = run("encode", bad, "-o", work / "y.spk")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "\\n" in err and "\\x1b" in err and "\x1b" not in err, err


def test_standard_input_named_twice_by_train_prior_is_a_usage_error(work: Path) -> None:
    code, _, err = run("train-prior", "-", "-", "-o", work / "t.prior")
    assert code == 2 and "standard input can be read once" in err, err


# -- what a new user following the docs met (an outside probe of README, docs/ and --help) ---------


def parser_error(*args: object) -> str:
    """The one line argparse's own refusal prints (exit status 2)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main([str(a) for a in args])
    assert exit_.value.code == 2
    return err.getvalue().strip()


def test_an_input_after_meta_gets_the_hint_to_end_meta(work: Path) -> None:
    line = parser_error("encode", "-o", work / "q.spk", "--meta", "model=resnet18", work / "x.npy")
    assert "required: INPUT" in line and "--meta takes every word after it" in line and "end it with --" in line, line
    assert "--meta" not in parser_error("encode", "-o", work / "q.spk")  # no --meta given: no hint about it
    assert run("encode", "-o", work / "q.spk", "--meta", "model=resnet18", "--", work / "x.npy")[0] == 0


def test_select_out_of_bounds_names_the_axis_the_user_named(work: Path) -> None:
    code, _, err = run("decode", work / "x.spk", "-o", work / "d.npy", "--select", "t=9")
    assert code == 2 and "--select: index 9 is out of bounds for axis T of size 3" in err, err


def test_validate_of_one_file_says_one_file(work: Path) -> None:
    (work / "empty").mkdir()
    code, out, _ = run("validate", work / "empty")
    assert code != 0 and "1 file:" in out and "1 files" not in out, out


def test_rgb_images_for_a_grayscale_model_are_named_as_such() -> None:
    from spikecodec.models.coinference import as_images

    with pytest.raises(ValueError, match=r"got 3 images of 3 channels \(RGB\); the model takes 1-channel \(grayscale\)"):
        as_images(np.zeros((3, 3, 28, 28), np.uint8), [1, 28, 28])


def test_a_bad_worker_count_in_the_environment_is_refused_before_serving(work: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "spikecodec", "serve", "--port", "1"], capture_output=True, text=True,
                          env={**os.environ, "SPIKECODEC_SERVE_WORKERS": "abc"}, timeout=60)
    assert done.returncode == 2 and "serving" not in done.stderr and "cloud half at" not in done.stderr
    assert done.stderr.strip().endswith("SPIKECODEC_SERVE_WORKERS='abc': expected a positive number of worker processes")


def test_a_misspelt_option_points_to_its_command_s_help(work: Path) -> None:
    line = parser_error("encode", work / "x.npy", "-o", work / "y.spk", "--cdec", "zstd")
    assert line.endswith("(see `spikecodec encode --help`)"), line


def test_an_output_that_is_an_input_is_named_once(work: Path) -> None:
    code, _, err = run("cloud", work / "x.spk", "-o", work / "x.npy", "--labels", work / "x.npy")
    assert code != 0 and err.count("x.npy") == 1 and "is also an input: refusing to overwrite it" in err, err

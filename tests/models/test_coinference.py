"""The co-inference API: edge bytes equal the model's spikes, cloud logits equal the model's,
and the cloud consumes a stream (a growing file, a pipe) that the edge is still writing."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import spikecodec
from spikecodec.models import (CloudDecoder, CloudStream, EdgeEncoder, cloud_logits, edge_encode, edge_write,
                               load_reference, shipped_prior)

WAIT = 60.0  # seconds the edge waits for the cloud to have consumed a batch (never reached when it works)


@pytest.fixture(scope="module")
def images(fmnist_test) -> np.ndarray:
    return fmnist_test[0][:12, 0].numpy()  # uint8 (12, 28, 28)


@pytest.fixture(scope="module")
def reference():
    return load_reference()


def test_bytes_roundtrip_equals_the_model(images: np.ndarray, reference) -> None:
    data = edge_encode(torch.from_numpy(images), batch_size=5)  # a torch tensor works too
    with torch.inference_mode():
        spikes = reference.edge(images)
        expected = reference(images)
    decoded = spikecodec.decode(data)
    assert decoded.shape == (12, 2, 4, 7, 7)
    assert np.array_equal(decoded.transpose(1, 0, 2, 3, 4), spikes.numpy())
    assert torch.allclose(cloud_logits(data), expected, atol=1e-5)


def test_one_message_per_image_with_the_shipped_prior(images: np.ndarray, reference) -> None:
    """The link's defaults: one image per compact record, ctxmix from the model's shipped prior;
    per-message calls for a transport of one's own give the same logits as the model."""
    data = edge_encode(images)
    assert edge_encode(images[::-1], stream_id=bytes(16)) == edge_encode(images[::-1].copy(), stream_id=bytes(16))  # torch took no negative strides
    assert edge_encode(images[:2]) != edge_encode(images[:2])  # each stream its own id
    with spikecodec.open(data) as r:
        assert r.records == "compact" and r.chunk_shape == (1,) and len(r.entries) == 12
        assert r.prior.digest == shipped_prior().digest and r.codec[0]["id"] == "ctxmix"
        assert sum(e.size for e in r.entries) < 12 * 40  # records, framing included: the raw spikes take 49 an image
    with torch.inference_mode():
        expected = reference(images)
    edge = EdgeEncoder(metadata={"camera": 3})
    cloud = CloudDecoder(edge.header)
    assert cloud.link.metadata["camera"] == 3
    got = [cloud.decode(edge.encode(image)) for image in images[:3]] + [cloud.decode(edge.encode(images[3:]))]
    cloud.end(edge.end())
    assert torch.allclose(torch.cat(got), expected, atol=1e-5)
    plain = EdgeEncoder(prior=None)
    other = plain.encode(images[0])
    with pytest.raises(spikecodec.FormatError, match="from another stream"):
        CloudDecoder(edge.header).decode(other)  # a message of another stream (no prior) is refused
    with pytest.raises(ValueError, match="the stream has ended"):  # nothing follows the end message
        cloud.decode(other)
    numbered = EdgeEncoder()  # over a transport that numbers messages: image 1 lost
    sent = [numbered.numbered(image) for image in images[:4]]
    assert [n for n, _ in sent] == [0, 1, 2, 3]
    cloud = CloudDecoder(numbered.header)
    got = {n: cloud.decode(sent[n][1], record=n) for n in (0, 2, 3)}
    cloud.end(numbered.end())
    assert cloud.link.records_skipped == 1
    for n, logits in got.items():
        assert torch.allclose(logits, expected[n : n + 1], atol=1e-5)


def test_bad_images_and_mismatched_spikes_raise(images: np.ndarray) -> None:
    with pytest.raises(ValueError, match="float64"):
        edge_encode(images / 255.0)
    with pytest.raises(ValueError, match=r"shaped \(12, 28\)"):
        edge_encode(images[:, 0])
    with pytest.raises(ValueError, match="no images"):
        edge_encode(iter([]))
    with pytest.raises(KeyError, match="no reference model"):
        edge_encode(images, "no-such-model")
    wrong = spikecodec.encode(np.zeros((3, 2, 4, 7, 6), np.uint8), axes="NTCHW", metadata={"model": "snn-resnet-fmnist"})
    with pytest.raises(ValueError, match=r"\(2, 4, 7, 6\) per image"):
        CloudStream(wrong)


def _edge_waiting_for_cloud(images: np.ndarray, consumed: list[threading.Event]):
    """Batches of 4 images; each after the first only once the cloud has consumed the one before."""
    for i, start in enumerate(range(0, len(images), 4)):
        if i and not consumed[i - 1].wait(WAIT):
            raise TimeoutError(f"the cloud did not consume batch {i - 1} while the edge was running")
        yield images[start : start + 4]


@pytest.mark.parametrize("medium", ["growing file", "pipe"])
def test_cloud_runs_while_the_edge_is_still_writing(tmp_path: Path, images: np.ndarray, reference, medium: str) -> None:
    consumed = [threading.Event() for _ in range(3)]
    if medium == "pipe":
        r, w = os.pipe()
        writer_file, reader_file = io.open(w, "wb"), io.open(r, "rb")
    else:
        path = tmp_path / "live.spk"
        writer_file = open(path, "wb")
        reader_file = None
    errors: list[BaseException] = []

    def edge() -> None:
        try:
            with writer_file:
                edge_write(_edge_waiting_for_cloud(images, consumed), writer_file, metadata={"camera": 1})
        except BaseException as exc:  # surfaced by the test below
            errors.append(exc)

    thread = threading.Thread(target=edge)
    thread.start()
    source = reader_file if medium == "pipe" else open(path, "rb")
    batches = []
    with source, CloudStream(source, wait=WAIT) as cloud:
        assert cloud.spikes.metadata["camera"] == 1
        for i, logits in enumerate(cloud):
            batches.append(logits)
            assert thread.is_alive() or i == 2  # the edge has not finished before the last batch
            consumed[i].set()
    thread.join(WAIT)
    assert not errors, errors
    assert [len(b) for b in batches] == [4, 4, 4]
    with torch.inference_mode():
        assert torch.allclose(torch.cat(batches), reference(images), atol=1e-5)


def test_the_cloud_refuses_counts_and_a_wrong_number_of_timesteps(images: np.ndarray) -> None:
    # Both ran through the network and gave predictions with no error: 2-bit counts as spikes
    # (accuracy 0.54), and a T-first stream of T = 1 or 5 for a T = 2 model (the per-image shape
    # left T out).
    meta = {"model": "snn-resnet-fmnist"}
    spikes = spikecodec.decode(edge_encode(images[:4]))  # (N, T, C, H, W)
    counts = spikecodec.LinkEncoder((2, 4, 7, 7), bits=2, metadata=meta)
    with pytest.raises(ValueError, match="2-bit spike counts; model 'snn-resnet-fmnist' takes 1-bit spikes"):
        CloudDecoder(counts.header)
    with pytest.raises(ValueError, match="2-bit spike counts"):
        cloud_logits(spikecodec.encode(spikes * 3, axes="NTCHW", metadata=meta))
    by_step = np.ascontiguousarray(spikes.transpose(1, 0, 2, 3, 4))  # (T, N, C, H, W)
    for steps in (1, 3):
        data = spikecodec.encode(np.concatenate([by_step, by_step])[:steps], axes="TNCHW", metadata=meta)
        with pytest.raises(ValueError, match=f"T = {steps} timesteps; model 'snn-resnet-fmnist' takes T = 2"):
            cloud_logits(data)
    np.testing.assert_array_equal(cloud_logits(spikecodec.encode(by_step, axes="TNCHW", metadata=meta)).argmax(1).numpy(),
                                  cloud_logits(spikecodec.encode(spikes, axes="NTCHW", metadata=meta)).argmax(1).numpy())


def test_the_networks_take_pixels_at_their_type_s_scale_only(images: np.ndarray, reference) -> None:
    # int16 or bool pixels of 0..255, and floats of 0..255, were read as if in [0, 1]: wrong
    # spikes, wrong classes, no error.
    with torch.inference_mode():
        want = reference.edge(images[:3])
        np.testing.assert_array_equal(reference.edge(torch.as_tensor(images[:3]).float() / 255).numpy(), want.numpy())
        for bad, said in ((images[:3].astype(np.int16), "images of torch.int16"), (images[:3] > 0, "images of torch.bool"),
                          (images[:3].astype(np.float32), "outside \\[0, 1\\]"), (np.full((1, 28, 28), np.nan, np.float32), "NaN"),
                          (np.repeat(images[:3, None], 3, 1), "images shaped \\(3, 3, 28, 28\\)")):
            with pytest.raises(ValueError, match=said):
                reference.edge(bad)


def test_an_edge_whose_source_breaks_off_leaves_its_stream_unfinished(tmp_path: Path, images: np.ndarray) -> None:
    # Before: the stream was ended as complete (index and trailer) with the images so far: a reader
    # could not tell a camera that died from a finished run.
    def camera():
        yield images[:2]
        raise RuntimeError("the camera died")

    path = tmp_path / "half.spk"
    with pytest.raises(RuntimeError, match="camera died"):
        edge_write(camera(), path)
    with pytest.raises(spikecodec.FormatError, match="did not finish"):
        spikecodec.open(path)
    with spikecodec.open(path, recover=True) as r:
        assert r.shape[0] == 2  # what was flushed is kept
    with pytest.raises(ValueError):
        edge_write([images[:2], images[:2].astype(np.float64)], tmp_path / "refused.spk")  # a batch refused
    with pytest.raises(spikecodec.FormatError, match="did not finish"):
        spikecodec.open(tmp_path / "refused.spk")


def test_a_stream_naming_an_unknown_model_and_bad_edge_options_are_value_or_type_errors(images: np.ndarray) -> None:
    # Before: KeyError (a stream's own text, remote data), AttributeError and a '<' TypeError.
    spikes = spikecodec.decode(edge_encode(images[:2]))
    with pytest.raises(ValueError, match="the stream's metadata names model 'nope'"):
        cloud_logits(spikecodec.encode(spikes, axes="NTCHW", metadata={"model": "nope"}))
    with pytest.raises(TypeError, match="metadata is a dict"):
        edge_encode(images[:2], metadata="camera3")
    for batch_size in ("3", 0, 1.5):
        with pytest.raises(ValueError, match="batch_size must be an integer of at least 1"):
            edge_encode(images[:2], batch_size=batch_size)


def test_the_shared_cached_net_runs_in_eval_mode_whatever_a_caller_did(images: np.ndarray) -> None:
    # EdgeEncoder().net is the one cached model every helper uses: a caller's .train() on it
    # changed 7 of 8 later predictions (batch-norm statistics of the batch), with no error.
    from spikecodec.models import cloud_logits

    before = cloud_logits(edge_encode(images[:8]))
    net = EdgeEncoder().net
    try:
        net.train()
        after = cloud_logits(edge_encode(images[:8]))
    finally:
        net.eval()
    assert torch.equal(before, after)


def test_a_stream_of_no_images_gives_no_logits() -> None:
    from spikecodec.models import cloud_logits

    edge = EdgeEncoder()
    assert tuple(cloud_logits(edge.header + edge.end()).shape) == (0, 10)  # torch.cat of no tensors before


def test_the_cloud_half_called_directly_refuses_another_t_and_counts(images: np.ndarray, reference) -> None:
    with torch.inference_mode():
        code = reference.edge(images[:4])
        for bad, said in ((code[:1], r"T=2, N, C, H, W\), got \(1,"), (torch.cat([code, code[:1]]), "got \\(3,"),
                          (code * 3, "0 and 1")):
            with pytest.raises(ValueError, match=said):
                reference.cloud(bad)
        assert reference.cloud(code).shape == (4, 10)


def test_a_message_of_many_images_runs_the_network_a_few_at_a_time(images: np.ndarray, monkeypatch) -> None:
    """``--batch 100000`` asked the network for 100000 images' activations at once (about
    0.5 MB each): the edge half now runs EDGE_RUN images at a time, into the same message and bytes."""
    from spikecodec.models import coinference

    whole = edge_encode(images, batch_size=1000, stream_id=bytes(16))
    seen = []
    net = coinference.load_split(None)[0]
    edge = type(net).edge
    monkeypatch.setattr(type(net), "edge", lambda self, x: seen.append(len(x)) or edge(self, x))
    monkeypatch.setattr(coinference, "EDGE_RUN", 5)
    assert edge_encode(images, batch_size=1000, stream_id=bytes(16)) == whole
    assert seen == [5, 5, 2]
    with spikecodec.open(whole) as r:
        assert len(r.entries) == 1  # one message
    encoder = EdgeEncoder()
    np.testing.assert_array_equal(spikecodec.decode(encoder.header + encoder.encode(images) + encoder.end()),
                                  spikecodec.decode(whole))

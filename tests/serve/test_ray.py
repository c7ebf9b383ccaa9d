"""The cloud half as a Ray Serve deployment (spikecodec.serve.ray_app) on a local Ray instance:
requests from several threads batched together, every answer the offline cloud half's."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from serve_helpers import offline_logits, stream_messages

# Ray's own modules warn of pydantic and other deprecations on import: not this project's.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_handle():
    import ray
    from ray import serve

    from spikecodec.serve.ray_app import deployment

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        # A long wait so that requests sent from several threads at once meet in one batch.
        handle = serve.run(deployment().bind(max_batch=64, max_wait_s=0.05), name="spikecodec-test", route_prefix="/")
        yield handle, port
    finally:
        serve.shutdown()
        ray.shutdown()


def test_ray_deployment_batches_requests_and_answers_as_offline(ray_handle, spikes):
    handle, _ = ray_handle
    # 48 one-image streams and 2 of 4 images (a stream's messages go together: its decoder is stateful).
    streams = [stream_messages(spikes[k : k + 1]) for k in range(48)] + [stream_messages(spikes[48 + 4 * k : 52 + 4 * k]) for k in range(2)]
    answers: dict[int, dict] = {}
    errors: list[BaseException] = []

    def send(part: list[int]) -> None:
        try:
            responses = [(k, handle.predict.remote(streams[k][0], streams[k][1])) for k in part]
            for k, response in responses:
                answers[k] = response.result(timeout_s=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(list(range(t, len(streams), 5)),)) for t in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    assert sorted(answers) == list(range(len(streams)))
    for k, (header, messages, end) in enumerate(streams):
        want = offline_logits(header, messages, end)
        assert np.array_equal(answers[k]["classes"], want.argmax(1))
        np.testing.assert_allclose(answers[k]["logits"], want, rtol=0, atol=1e-5)
    stats = handle.stats.remote().result(timeout_s=30)
    assert stats["images"] >= 56 and stats["largest"] > 1  # requests of several threads ran in one batch


def test_ray_deployment_refuses_bad_messages_and_serves_http(ray_handle, spikes):
    handle, port = ray_handle
    header, messages, end = stream_messages(spikes[:3])
    bad = messages[2][:-2]
    with pytest.raises(Exception, match="image 2: bad message"):
        handle.predict.remote(header, [*messages[:2], bad]).result(timeout_s=60)
    # HTTP: a complete spike file in, JSON out.
    body = header + b"".join(messages) + end
    got = json.loads(urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/", data=body), timeout=60).read())
    want = offline_logits(header, messages, end)
    assert got["classes"] == want.argmax(1).tolist()
    np.testing.assert_allclose(np.array(got["logits"], np.float32), want, rtol=0, atol=1e-5)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/", data=body[:-40]), timeout=60)
    assert info.value.code == 400 and "bad spike file" in json.loads(info.value.read())["error"]


@pytest.mark.parametrize("images, row", [(4 * 4096, 4 * 4096), (4096 + 512, 512)], ids=["one row", "rows"])
def test_ray_deployment_refuses_a_request_of_more_images_than_max_images(ray_handle, images, row):
    # Before: a 2 KB body declaring a million images of zeros was decoded whole (373 MiB) and run
    # through the cloud half in one forward; Ray's HTTP proxy checks no token.
    import spikecodec
    from spikecodec.serve.ray_app import MAX_IMAGES

    assert images > MAX_IMAGES == 4096
    handle, port = ray_handle
    body = spikecodec.encode(np.zeros((images, 2, 4, 7, 7), np.uint8), axes="NTCHW", codec="zstd", chunk=(row,),
                             metadata={"model": "snn-resnet-fmnist"})
    assert len(body) < 64 << 10
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/", data=body), timeout=60)
    assert info.value.code == 400
    error = json.loads(info.value.read())["error"]
    if row > MAX_IMAGES:  # refused before the row is decoded
        assert error.startswith("over this deployment's limits: ") and error.endswith(f"(at most {MAX_IMAGES} images a request: max_images)")
    else:  # rows counted as they come
        assert error == f"more than {MAX_IMAGES} images in one request (max_images)"


def test_ray_deployment_refuses_more_messages_than_max_images(ray_handle, spikes):
    from spikecodec.serve.ray_app import MAX_IMAGES

    handle, _ = ray_handle
    header, messages, _ = stream_messages(spikes[:1])
    with pytest.raises(Exception, match=f"{MAX_IMAGES + 1} images in one request; at most {MAX_IMAGES}"):
        handle.predict.remote(header, messages * (MAX_IMAGES + 1)).result(timeout_s=60)

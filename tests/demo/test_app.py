"""The demo through its API (gradio_client against an app launched here), bad inputs included."""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client  # noqa: E402

from demo.app import build_app, launch  # noqa: E402


def test_generate_returns_stage1_and_stage2(client):
    g1, g2 = client.predict("a large red star with blue stripes", 3, 7, True, api_name="/generate")
    assert len(g1) == 3 and len(g2) == 3
    assert all(os.path.isfile(x["image"]) for x in g1 + g2)
    assert [x["caption"] for x in g2] == ["seed 7", "seed 8", "seed 9"]


def test_same_seed_same_images(client):
    from PIL import Image

    a = client.predict("a green circle", 2, 3, True, api_name="/generate")[1]
    b = client.predict("a green circle", 2, 3, True, api_name="/generate")[1]
    read = lambda g: [np.asarray(Image.open(x["image"])) for x in g]  # noqa: E731
    assert all(np.array_equal(x, y) for x, y in zip(read(a), read(b)))


def test_ca_sampling_off_uses_the_mean(checkpoint):
    from demo.stackgan_tab import StackGANDemo

    demo = StackGANDemo(checkpoint)
    on = demo._noise([1, 2], ca_sampling=True)
    off = demo._noise([1, 2], ca_sampling=False)
    assert torch.equal(on["z"], off["z"]) and off["eps1"].abs().sum() == 0 and on["eps1"].abs().sum() > 0
    emb = demo.pipe.encode(["a green circle"]).expand(2, -1)
    x_on = demo.pipe.generate(embeddings=emb, noise=on)["image"]
    x_off = demo.pipe.generate(embeddings=emb, noise=off)["image"]
    assert not torch.equal(x_on, x_off)


def test_interpolate(client):
    g = client.predict("a red square", "a blue circle", 4, 0, api_name="/interpolate")
    assert [x["caption"] for x in g] == ["β = 0.00", "β = 0.33", "β = 0.67", "β = 1.00"]


@pytest.mark.parametrize("caption, n, seed, ca, message", [
    ("", 2, 0, True, "empty"),
    ("   \n\t ", 2, 0, True, "empty"),
    ("x" * 10_000, 2, 0, True, "10,000 characters"),
    ("a red star", 0, 0, True, "Number of samples|less than minimum"),
    ("a red star", 99, 0, True, "Number of samples|greater than maximum"),
    ("a red star", "lots", 0, True, "Number of samples|number|float"),
    ("a red star", 2, -5, True, "Seed|less than minimum"),
])
def test_bad_inputs_give_clear_errors(client, caption, n, seed, ca, message):
    with pytest.raises(Exception, match=message):
        client.predict(caption, n, seed, ca, api_name="/generate")
    assert len(client.predict("still serving", 1, 0, True, api_name="/generate")[1]) == 1


def test_emoji_and_non_latin_captions_still_generate(client):
    for text in ["a red ⭐ with 🔵 stripes", "красная звезда", "赤い星"]:
        assert len(client.predict(text, 1, 0, True, api_name="/generate")[1]) == 1


def test_sixteen_concurrent_clients(client):
    url = client.src

    def one(i):
        return Client(url, verbose=False).predict(f"a shape number {i}", 2, i % 3, True, api_name="/generate")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert all(len(r[1]) == 2 for r in results)


def test_missing_checkpoint_is_reported_not_fatal(tmp_path, free_port):
    app = build_app(checkpoint=tmp_path / "nowhere")
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        c = Client(url, verbose=False)
        with pytest.raises(Exception, match="could not be loaded"):
            c.predict("a red star", 1, 0, True, api_name="/generate")
    finally:
        app.close()


def test_results_endpoint(client):
    table, verdicts, plot, header = client.predict("toypaper", api_name="/results")
    assert table["headers"][:2] == ["row", "is_mean"] and len(table["data"]) == 2
    assert table["data"][1][-1] == "3.70 ± 0.04"  # the paper's number beside ours
    assert verdicts["data"][0][-1] == "reproduced"

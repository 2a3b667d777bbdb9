"""The shipped StackGAN (results/checkpoints/stackgan): small, rebuilt from its files alone, seeded,
and it follows the caption (read by the shipped evaluation classifier)."""
import json
from pathlib import Path

import pytest
import torch

from core.data.shapes import ATTRIBUTES
from core.metrics.classifiers import load_classifier
from core.pipeline import Pipeline

SHIPPED = Path(__file__).resolve().parents[1] / "results" / "checkpoints" / "stackgan"


@pytest.fixture(scope="module")
def pipe():
    return Pipeline.from_checkpoint(SHIPPED)


def test_shipped_stackgan_is_small_and_carries_its_config():
    assert (SHIPPED / "model.safetensors").stat().st_size < 20_000_000
    cfg = json.loads((SHIPPED / "config.json").read_text())["config"]
    assert cfg["model_name"] == "stackgan" and cfg["model"]["stages"] == 2 and cfg["resolution"] == 64


def test_shipped_stackgan_generates_both_stages_by_seed(pipe):
    a = pipe.generate(["a red star on a black background"] * 3, seeds=[0, 1, 2])
    assert a["stage1"].shape == (3, 3, 16, 16) and a["image"].shape == (3, 3, 64, 64)
    b = pipe.generate(["a red star on a black background"], seeds=[1])
    torch.testing.assert_close(b["image"], a["image"][1:2], rtol=0, atol=1e-4)  # well below one uint8 step
    assert not torch.allclose(a["image"][0], a["image"][1])  # the seed matters


@pytest.mark.parametrize("color", ["red", "green", "blue", "yellow"])
def test_shipped_stackgan_draws_the_colour_it_is_asked_for(pipe, color):
    images = pipe.generate([f"a {color} circle on a gray background"] * 16, seeds=list(range(16)))["image"]
    _, preds = load_classifier("shapes").net.predict(images)
    hits = (preds["color"] == ATTRIBUTES["color"].index(color)).float().mean().item()
    assert hits >= 0.75, (color, hits)

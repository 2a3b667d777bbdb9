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


CHECKPOINTS = SHIPPED.parent


def test_every_shipped_file_fits_a_space_without_git_lfs():
    """A Hugging Face Space refuses files over 10 MB pushed without Git LFS; the demo must deploy as it is."""
    big = {str(f.relative_to(CHECKPOINTS)): f.stat().st_size for f in CHECKPOINTS.rglob("*")
           if f.is_file() and f.stat().st_size >= 10 * 1024 * 1024}
    assert not big, big


STACKED = [(layer, mode) for layer in ("dense", "conv", "deepconv") for mode in ("single", "stacked", "full")]


@pytest.mark.parametrize("layer,mode", STACKED)
def test_the_shipped_stacked_study_models_generate_by_seed(layer, mode):
    """The nine demo models (inference exports: generators only, float16): rebuilt from their files, the same
    seed gives the same images and another seed others; a stack's Stage-II image is a function of its Stage-I
    image alone (no latent reaches Stage-II)."""
    from core.checkpoint import exported_modules

    path = CHECKPOINTS / f"stacked-{layer}-{mode}"
    pipe = Pipeline.from_checkpoint(path)
    assert (pipe.cfg.model.layer, pipe.cfg.model.mode, pipe.cfg.dataset) == (layer, mode, "shapes")
    assert exported_modules(path) == (["netG1"] if mode == "single" else ["netG1", "netG2"])
    a = pipe.generate(seeds=range(6))
    assert a["image"].shape == (6, 3, 64, 64)
    assert torch.equal(a["image"], pipe.generate(seeds=range(6))["image"])
    assert (a["image"] - pipe.generate(seeds=range(6, 12))["image"]).abs().mean() > 0.01
    if mode == "single":
        assert "stage1" not in a
    else:
        assert a["stage1"].shape == (6, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(pipe.model.netG2(a["stage1"]), a["image"], rtol=0, atol=1e-6)

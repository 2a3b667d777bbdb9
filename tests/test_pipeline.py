"""Inference pipeline: rebuild from a checkpoint alone; every sample addressable by its seed."""
import pytest
import torch

from core.pipeline import Pipeline, seeded_noise
from core.resolve import build_config
from core.train import train

import test_train  # noqa: F401  registers the toy dataset


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    cfg = build_config("gan-int-cls", "smoke", {"model.steps": 3}, dataset="toy", text_encoder="hash")
    run = train(cfg, tmp_path_factory.mktemp("pipe") / "run", progress=False)
    return Pipeline.from_checkpoint(run)


def test_rebuilds_from_checkpoint_alone(pipe):
    assert pipe.cfg.model_name == "gan-int-cls" and pipe.resolution == 16
    assert not any(m.training for m in pipe.model.modules())


def test_same_seed_same_image_in_any_batch(pipe):
    caps = ["thing number 1", "object of kind 2", "thing number 3"]
    a = pipe.generate(caps, seeds=[5, 6, 7])["image"]
    b = pipe.generate(caps[1:2], seeds=[6])["image"]
    c = pipe.generate(list(reversed(caps)), seeds=[7, 6, 5])["image"]
    assert a.shape == (3, 3, 16, 16) and a.min() >= -1 and a.max() <= 1
    torch.testing.assert_close(a[1:2], b, rtol=0, atol=1e-6)
    torch.testing.assert_close(a, c.flip(0), rtol=0, atol=1e-6)
    d = pipe.generate(caps, seeds=[8, 9, 10])["image"]
    assert (a - d).abs().amax(dim=(1, 2, 3)).min() > 1e-3  # other seeds, other images


def test_seeded_noise_depends_only_on_seed():
    a = seeded_noise({"z": (4,), "eps": (2,)}, [3, 4])
    b = seeded_noise({"z": (4,), "eps": (2,)}, [4])
    assert torch.equal(a["z"][1], b["z"][0]) and torch.equal(a["eps"][1], b["eps"][0])
    assert not torch.equal(a["z"][0], a["z"][1])


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint found"):
        Pipeline.from_checkpoint(tmp_path)


def test_seed_count_must_match(pipe):
    with pytest.raises(ValueError, match="2 conditions but 3 seeds"):
        pipe.generate(["a", "b"], seeds=[1, 2, 3])

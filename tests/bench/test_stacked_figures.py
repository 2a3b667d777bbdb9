"""bench.stacked_figures: the eye-test sheets from shipped stacked-study checkpoints."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench import stacked_figures
from core.resolve import build_config
from core.train import train

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {"model.z_dim": 8, "model.conv_width": 4, "dataset_size": 16, "batch_size": 4}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """conv single and conv stacked (from one Stage-I), as scripts/ship_stacked.sh lays them out."""
    tmp = tmp_path_factory.mktemp("stacked-figures")
    conv = {**FAST, "model.layer": "conv"}
    train(build_config("stacked", "smoke", {**conv, "model.mode": "single"}), tmp / "stacked-conv-single",
          progress=False)
    stage1 = train(build_config("stacked", "smoke", {**conv, "resolution": 16, "model.mode": "single",
                                                     "model.stage2_steps": 0}), tmp / "stage1", progress=False)
    train(build_config("stacked", "smoke", {**conv, "model.mode": "stacked", "model.stage1_steps": 0,
                                            "init_from": str(stage1), "init_modules": ["netG1", "netD1"]}),
          tmp / "stacked-conv-stacked", progress=False)
    return tmp


def test_the_sheets_show_every_model_on_disk_from_the_same_seeds(shipped, tmp_path):
    assert stacked_figures.main(["--checkpoints", str(shipped), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "eye_test.png", "stages_conv.png"]
    eye, stages = (np.asarray(Image.open(tmp_path / n)) for n in ("eye_test.png", "stages_conv.png"))
    cell, pad = 64, 4  # 32 px models are drawn at 64
    assert eye.shape[0] == 2 * (cell + pad) + pad  # two models
    assert stages.shape[0] == 3 * (cell + pad) + pad  # single; stacked's Stage-I and Stage-II
    readme = (tmp_path / "README.md").read_text()
    assert "python -m bench.stacked_figures --checkpoints" in readme and "stacked-dense-single" in readme
    assert "stacked-conv-single" not in readme.split("Not on disk")[1]
    # the two models' lines differ (they are different networks), and the sheet is deterministic
    assert not np.array_equal(eye[pad:pad + cell], eye[2 * pad + cell:2 * pad + 2 * cell])
    again = tmp_path / "again"
    assert stacked_figures.main(["--checkpoints", str(shipped), "--out", str(again)]) == 0
    assert np.array_equal(np.asarray(Image.open(again / "eye_test.png")), eye)


def test_no_model_or_a_wrong_one_is_a_clear_error(shipped, tmp_path, capsys):
    assert stacked_figures.main(["--checkpoints", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "scripts/ship_stacked.sh" in capsys.readouterr().err
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "stacked-dense-full").symlink_to(shipped / "stacked-conv-single")
    assert stacked_figures.main(["--checkpoints", str(wrong), "--out", str(tmp_path / "o")]) == 2
    assert "not stacked dense/full" in capsys.readouterr().err

"""The dataset preview CLI: ``python -m core.data preview``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.data import __main__ as cli
from core.data import load_dataset
from core.data import shapes
from core.data.base import image_to_uint8

REPO = Path(__file__).resolve().parents[2]


def test_preview_writes_a_grid_of_the_expected_size(tmp_path):
    out = tmp_path / "sub" / "preview.png"
    code = cli.main(["preview", "--dataset", "shapes", "--resolution", "32", "--out", str(out),
                     "--n", "6", "--cols", "4", "--split", "test", "--seed", "1", "--pick", "first",
                     "-o", "size=10"])
    assert code == 0
    img = Image.open(out)
    side = 128  # 32 px upscaled 4× to reach MIN_DISPLAY
    rows = 2
    assert img.size == (4 * (2 * side + cli.GAP) + 5 * cli.MARGIN,
                        rows * (side + cli.caption_height()) + (rows + 1) * cli.MARGIN)
    assert img.size == cli.grid_size(6, 4, 32, with_normals=True)
    # the first tile is item 0 upscaled, its normal map sits next to it, a caption below
    ds = load_dataset("shapes", split="test", resolution=32, seed=1, size=10)
    arr = np.asarray(img.convert("RGB"))
    m = cli.MARGIN
    tile = arr[m : m + side, m : m + side]
    assert np.array_equal(tile[::4, ::4], image_to_uint8(ds[0]["image"]))
    normal_tile = arr[m : m + side, m + side + cli.GAP : m + 2 * side + cli.GAP]
    expected = np.rint((ds[0]["normals"].numpy().transpose(1, 2, 0) + 1) * 127.5)
    assert np.abs(normal_tile[::4, ::4].astype(float) - expected).max() <= 1
    caption_area = arr[m + side : m + side + cli.caption_height(), m : m + 2 * side]
    assert (caption_area < 100).any()  # dark text was drawn


def test_preview_without_normals_or_captions():
    class Digits(torch.utils.data.Dataset):
        class_names = [f"digit {i}" for i in range(10)]

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"image": torch.full((1, 16, 16), 0.5), "label": i}

    img = cli.render_preview(Digits(), n=5, cols=2)
    assert img.size == cli.grid_size(3, 2, 16, with_normals=False)
    assert img.size[0] == 2 * 128 + 3 * cli.MARGIN


def test_pick_shows_one_item_per_class_first():
    ds = load_dataset("shapes", split="train", resolution=16, seed=0, size=200)
    idx = cli.pick_items(ds, 14)
    labels = [ds[i]["label"] for i in idx]
    assert len(set(idx)) == 14
    assert labels[:10] == list(range(10))  # every shape once, in class order
    assert cli.pick_items(ds, 5, "first") == [0, 1, 2, 3, 4]


def test_wrap_fits_width_and_marks_overflow():
    font = cli._font()
    lines = cli.wrap("word " * 100, 120, font)
    assert len(lines) == cli.CAPTION_LINES and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 120 for line in lines)
    assert cli.wrap("a short caption", 500, font) == ["a short caption"]


def test_unknown_dataset_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["preview", "--dataset", "nope", "--out", str(tmp_path / "x.png")])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'nope'" in err and "shapes" in err
    assert not (tmp_path / "x.png").exists()


def test_module_entry_point(tmp_path):
    shapes.signed_distance_templates()  # on disk in the session cache: the subprocess only loads them
    out = tmp_path / "p.png"
    run = subprocess.run(
        [sys.executable, "-m", "core.data", "preview", "--dataset", "shapes", "--resolution", "16",
         "--out", str(out), "--n", "2", "-o", "size=2"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert Image.open(out).size == cli.grid_size(2, 4, 16, with_normals=True)

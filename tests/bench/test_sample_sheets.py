"""Benchmark sample sheets for every condition kind: one line per test item's condition (or, for an
unconditional model, per group of seeds), one column per seed."""
from __future__ import annotations

from PIL import Image

from bench.plots import SHEET_ITEMS, sample_sheet, sheet_conditions
from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import train

import test_conditions  # noqa: F401  registers the toy label and unconditional models


def test_sheets_for_label_and_unconditional_models(tmp_path):
    donor = train(build_config("toy-uncond", "smoke"), tmp_path / "uncond", progress=False)
    label = train(build_config("toy-label", "smoke", {"frozen": [f"netE={donor}:netD"]}), tmp_path / "label",
                  progress=False)
    cond, names = sheet_conditions(Pipeline.from_checkpoint(label))
    assert list(cond) == ["labels"] and len(names) == len(SHEET_ITEMS) and all("[class " in n for n in names)
    assert sheet_conditions(Pipeline.from_checkpoint(donor)) == ({}, [f"samples (row {r + 1})" for r in range(6)])
    for run in (donor, label):
        path = sample_sheet(run, [0, 1, 2], tmp_path / f"{run.name}.png")
        with Image.open(path) as im:
            assert im.height > 6 * 90  # six lines of 96-px cells

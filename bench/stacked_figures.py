"""The stacked study's "eye test" (seed 003 judged its models by eye), side by side, from the shipped checkpoints:
``python -m bench.stacked_figures --checkpoints results/checkpoints --out results/stacked/figures``.

Reads ``stacked-<layer>-<mode>`` under ``--checkpoints`` (as ``scripts/ship_stacked.sh`` and the demo lay them
out) and writes, with the command in ``README.md`` beside them, every image drawn from the same noise seeds:

- ``eye_test.png``: one line per model (layer type × mode), its final images at the target resolution;
- ``stages_<layer>.png``: one layer type, its single GAN's images, then for each stack its Stage-I images
  (enlarged by whole pixels to the target side) above the Stage-II images made from them.

Models not on disk are left out and listed in the README.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from bench.tables.stacked import LAYER_NAMES, LAYERS, MODE_NAMES
from core.pipeline import Pipeline
from core.viz import captioned_rows

K = 8  # images per line (noise seeds 0 .. K-1)
MODES = tuple(MODE_NAMES)  # single, stacked, full


def _enlarge(images: torch.Tensor, side: int) -> torch.Tensor:
    """``[N, C, h, w]`` → ``[N, C, side, side]``, nearest neighbour (whole pixels when side is a multiple of h)."""
    return images if images.shape[-1] == side else torch.nn.functional.interpolate(images, size=side, mode="nearest")


@torch.no_grad()
def draw(checkpoints: Path, seeds: list[int]) -> dict[tuple[str, str], dict[str, torch.Tensor]]:
    """``{(layer, mode): generate(seeds=seeds)}`` for every model found, in LAYERS × MODES order."""
    out = {}
    for layer in LAYERS:
        for mode in MODES:
            path = checkpoints / f"stacked-{layer}-{mode}"
            if path.exists():
                pipe = Pipeline.from_checkpoint(path)
                if pipe.cfg.model_name != "stacked" or (pipe.cfg.model.layer, pipe.cfg.model.mode) != (layer, mode):
                    raise ValueError(f"{path} holds {pipe.cfg.model_name} "
                                     f"{getattr(pipe.cfg.model, 'layer', '?')}/{getattr(pipe.cfg.model, 'mode', '?')}, "
                                     f"not stacked {layer}/{mode}")
                out[(layer, mode)] = pipe.generate(seeds=seeds)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stacked_figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoints", default="results/checkpoints", help="folder holding stacked-<layer>-<mode>")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    t0 = time.time()
    seeds = list(range(K))
    try:
        drawn = draw(Path(args.checkpoints), seeds)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not drawn:
        print(f"error: no stacked-<layer>-<mode> checkpoint under {args.checkpoints} (scripts/ship_stacked.sh makes "
              "them)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    side = max(o["image"].shape[-1] for o in drawn.values())
    cell = max(64, side)

    lines = [_enlarge(o["image"], side) for o in drawn.values()]
    names = [f"{LAYER_NAMES[layer]}, {MODE_NAMES[mode]}" for layer, mode in drawn]
    captioned_rows(torch.stack(lines), names, cell=cell, text_width=170).save(out / "eye_test.png")

    for layer in LAYERS:
        lines, names = [], []
        for mode in MODES:
            o = drawn.get((layer, mode))
            if o is None:
                continue
            if "stage1" in o:
                lines.append(_enlarge(o["stage1"], side))
                names.append(f"{MODE_NAMES[mode]}: Stage-I ({o['stage1'].shape[-1]} px, enlarged)")
            lines.append(_enlarge(o["image"], side))
            names.append(f"{MODE_NAMES[mode]}: {'Stage-II' if 'stage1' in o else 'images'} ({o['image'].shape[-1]} px)")
        if lines:
            captioned_rows(torch.stack(lines), names, cell=cell, text_width=170).save(out / f"stages_{layer}.png")

    missing = [f"stacked-{layer}-{mode}" for layer in LAYERS for mode in MODES if (layer, mode) not in drawn]
    command = "python -m bench.stacked_figures " + " ".join(argv if argv is not None else sys.argv[1:])
    wall = round(time.time() - t0, 1)
    (out / "README.md").write_text("\n".join([
        "# Stacked study: the eye test, side by side", "", f"Made by `{command}` ({wall} s).", "",
        f"Every line uses noise seeds 0-{K - 1}, so column i of one line and of another come from the same z.", "",
        "- `eye_test.png`: one line per model, its final images.",
        "- `stages_<layer>.png`: one layer type; for each stack its Stage-I images (enlarged by whole pixels) above "
        "the Stage-II images made from them.",
        *([f"- Not on disk, so not drawn: {', '.join(missing)}."] if missing else [])]) + "\n")
    print(f"wrote {out} ({wall} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

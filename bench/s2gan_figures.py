"""The S²-GAN paper's pictures, from a shipped checkpoint:
``python -m bench.s2gan_figures --checkpoint results/checkpoints/s2gan-shapes --out results/s2gan/figures``.

Writes, with the command in ``README.md`` beside them (normal maps in the usual ``(n + 1) / 2`` colours):

- ``structures.png``: eight structures sampled by the Structure-GAN (seeds 0-7) above the Style-GAN's
  renderings of them (the paper's Fig. 4/5: structure, then style);
- ``one_structure.png``: each row one structure (its normal map first), rendered with the same eight style
  noises (style seeds 0-7): what the style noise changes;
- ``one_style.png``: a first row of eight structures, then one row per style noise, each rendering all eight
  structures: what the structure changes under a fixed style.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from core.pipeline import Pipeline
from core.viz import captioned_rows

K = 8  # images per row


def draw(pipe: Pipeline, structure_seeds: list[int], style_seeds: list[int]) -> dict[str, torch.Tensor]:
    """``{"image": [n, 3, R, R], "normals": [n, 3, R, R]}``: structure from ``structure_seeds[i]``, rendered
    with the style noise of ``style_seeds[i]``."""
    return pipe.generate(seeds={"z_structure": structure_seeds, "z_style": style_seeds})


@torch.no_grad()
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.s2gan_figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a full S²-GAN run or checkpoint directory")
    p.add_argument("--out", required=True)
    p.add_argument("--rows", type=int, default=4, help="structures in one_structure.png, styles in one_style.png")
    args = p.parse_args(argv)
    t0 = time.time()
    pipe = Pipeline.from_checkpoint(args.checkpoint)
    if pipe.cfg.model_name != "s2gan" or pipe.noise_names != ("z_structure", "z_style"):
        print(f"error: {args.checkpoint} is not a full S²-GAN (model {pipe.cfg.model_name}, noises "
              f"{pipe.noise_names})", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(K))
    cell = max(64, 2 * pipe.resolution)

    first = draw(pipe, seeds, seeds)
    captioned_rows(torch.stack([first["normals"], first["image"]]),
                   ["structures (normals), seeds 0-7", "their renderings"], cell=cell, text_width=150) \
        .save(out / "structures.png")

    rows = []
    for s in range(args.rows):
        o = draw(pipe, [s] * K, seeds)
        rows.append(torch.cat([o["normals"][:1], o["image"]]))  # [1 + K, 3, R, R]
    captioned_rows(torch.stack(rows), [f"structure seed {s}: normals, then style seeds 0-7" for s in range(args.rows)],
                   cell=cell, text_width=150).save(out / "one_structure.png")

    rows = [first["normals"]] + [draw(pipe, seeds, [100 + t] * K)["image"] for t in range(args.rows)]
    captioned_rows(torch.stack(rows), ["structure seeds 0-7"] + [f"style seed {100 + t}" for t in range(args.rows)],
                   cell=cell, text_width=150).save(out / "one_style.png")

    command = "python -m bench.s2gan_figures " + " ".join(argv if argv is not None else sys.argv[1:])
    wall = round(time.time() - t0, 1)
    (out / "README.md").write_text("\n".join([
        f"# S²-GAN figures: `{pipe.cfg.dataset}`", "", f"Made by `{command}` ({wall} s).", "",
        "Normal maps are shown in the usual colours: (n + 1) / 2 per channel (x red, y green, z blue).", "",
        "- `structures.png`: eight structures from the Structure-GAN (seeds 0-7) above their renderings.",
        "- `one_structure.png`: each row one structure (its normal map first), rendered with style seeds 0-7: what "
        "the style noise changes.",
        "- `one_style.png`: eight structures (top row), then one row per style noise rendering all of them: what "
        "the structure changes."]) + "\n")
    print(f"wrote {out} ({wall} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

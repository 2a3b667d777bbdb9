"""The SGAN paper's pictures, from shipped checkpoints, with the scores that go with them:
``python -m bench.sgan_figures --checkpoint results/checkpoints/sgan-mnist5k --out results/sgan/figures/mnist5k``.

Writes, with the command in ``README.md`` beside them:

- ``classes.png``: one row per class, ten seeds each (the paper's Fig. 2a; the reference ``sampling.py``);
- ``fixed_fc3.png``: for each of five classes, one fixed fc3 (fixed y and z1) and eight z0, with the entropy
  loss and, when ``--noent`` is given (default: the ``-noent`` sibling of ``--checkpoint``), without it
  (Fig. 2c/d: without L_ent, G0 ignores z0);
- ``decomposition.png``: one class; rows are different z1 (coarse pose, through G1's fc3), columns different
  z0 (detail), the same z0 seeds in every row;
- ``scores.json``: for each model, the z0 spread (:func:`z0_spread`: how much the pixels move when only z0
  changes) and what the evaluation classifier reads (conditional accuracy, within-class diversity, the
  diversity from z0 alone at a fixed fc3, FID, recall), via :func:`core.metrics.evaluate`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from core.checkpoint import git_sha
from core.data import class_names
from core.pipeline import Pipeline
from core.viz import captioned_rows

K = 8  # images per row in fixed_fc3.png and decomposition.png


def class_grid(pipe: Pipeline, names: tuple[str, ...], per_class: int = 10) -> torch.Tensor:
    """``[classes, per_class, C, H, W]``: class k with seeds 0..per_class−1 (the same seeds on every row)."""
    n = len(names)
    labels = [k for k in range(n) for _ in range(per_class)]
    seeds = list(range(per_class)) * n
    return pipe.generate(labels=labels, seeds=seeds)["image"].view(n, per_class, *pipe_shape(pipe))


def pipe_shape(pipe: Pipeline) -> tuple[int, int, int]:
    return pipe.info.channels, pipe.resolution, pipe.resolution


def fixed_fc3_strip(pipe: Pipeline, label: int, z1_seed: int, z0_seeds: list[int]) -> dict:
    """One class, one z1 (so one fc3), several z0: ``{"image": [K, C, H, W], "fc3": [K, F]}``."""
    k = len(z0_seeds)
    return pipe.generate(labels=[label] * k, seeds={"z1": [z1_seed] * k, "z0": z0_seeds})


@torch.no_grad()
def z0_spread(pipe: Pipeline, fc3_per_class: int = 8, k: int = K) -> float:
    """How much G0 uses z0 (the paper's Fig. 2c/d as a number): the per-pixel standard deviation across ``k``
    z0 draws at one fixed fc3 (fixed class and z1), in [0, 1] pixel units, averaged over pixels and over
    ``fc3_per_class`` fc3 of every class. 0 means G0 ignores z0. The z1 seeds (1000, 1001, ...) and z0 seeds
    (0..k−1) are fixed, so a model always gives the same number."""
    values = []
    for label in range(pipe.info.num_classes):
        for z1_seed in range(1000, 1000 + fc3_per_class):
            x = (fixed_fc3_strip(pipe, label, z1_seed, list(range(k)))["image"] + 1) / 2  # [k, C, H, W] in [0, 1]
            values.append(float(x.std(0, unbiased=False).mean()))
    return sum(values) / len(values)


@torch.no_grad()
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sgan_figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="an SGAN run or checkpoint directory (stacked)")
    p.add_argument("--noent", default=None, help="the same model trained without the entropy loss "
                                                 "(default: <checkpoint>-noent when it exists)")
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=1000, help="generated images per score (default 1000)")
    p.add_argument("--no-scores", action="store_true", help="pictures only")
    args = p.parse_args(argv)
    t0 = time.time()
    full = Pipeline.from_checkpoint(args.checkpoint)
    if full.noise_names != ("z1", "z0"):
        print(f"error: {args.checkpoint} is not a stacked SGAN (noises {full.noise_names})", file=sys.stderr)
        return 2
    noent_path = Path(args.noent) if args.noent else Path(str(Path(args.checkpoint)).rstrip("/") + "-noent")
    noent = Pipeline.from_checkpoint(noent_path) if noent_path.exists() else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = class_names(full.cfg.dataset, full.info.num_classes)

    captioned_rows(class_grid(full, names), [f"class {n}" for n in names], cell=64, text_width=110) \
        .save(out / "classes.png")

    rows, captions = [], []
    for label in range(0, len(names), max(1, len(names) // 5))[:5]:
        for tag, pipe in (("with L_ent", full), ("without L_ent", noent)):
            if pipe is None:
                continue
            rows.append(fixed_fc3_strip(pipe, label, z1_seed=100 + label, z0_seeds=list(range(K)))["image"])
            captions.append(f"{names[label]}, fixed z1, {tag}")
    captioned_rows(torch.stack(rows), captions, cell=64, text_width=190).save(out / "fixed_fc3.png")

    label = 0
    dec = torch.stack([fixed_fc3_strip(full, label, z1_seed=s, z0_seeds=list(range(K)))["image"]
                       for s in range(200, 206)])
    captioned_rows(dec, [f"{names[label]}: z1 seed {s}, z0 seeds 0-{K - 1}" for s in range(200, 206)], cell=64,
                   text_width=190).save(out / "decomposition.png")

    scores = {tag: {"z0_spread": round(z0_spread(pipe), 4)} for tag, pipe in (("sgan", full), ("sgan-noent", noent))
              if pipe is not None}
    if not args.no_scores:
        from core.metrics import evaluate

        for tag, pipe in (("sgan", full), ("sgan-noent", noent)):
            if pipe is not None:
                s = evaluate(pipe, metrics=["fid", "prc", "cond_acc", "diversity", "diversity_detail"], n=args.n)
                scores[tag].update({k: round(float(v), 4) for k, v in s.items()})
    command = "python -m bench.sgan_figures " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {"command": command, "git_sha": git_sha(), "checkpoint": str(args.checkpoint),
            "noent": str(noent_path) if noent else None, "n": args.n, "wall_time_s": round(time.time() - t0, 1)}
    (out / "scores.json").write_text(json.dumps({"meta": meta, "scores": scores}, indent=2) + "\n")
    lines = [f"# SGAN figures: `{full.cfg.dataset}`", "", f"Made by `{command}` ({meta['wall_time_s']} s).", "",
             "- `classes.png`: one row per class, ten seeds (the same seeds on every row).",
             "- `fixed_fc3.png`: a fixed fc3 (fixed class and z1), eight z0 — with the entropy loss, and without "
             "it (the paper's Fig. 2c/d).",
             "- `decomposition.png`: one class; each row one z1 (the coarse pose), each column one z0 (detail).",
             "- `scores.json`: `z0_spread`, the per-pixel standard deviation across eight z0 at a fixed fc3 "
             "(in [0, 1] units, over eight fc3 per class), and the evaluation classifier's reading of each model "
             f"({args.n} images per score): `diversity` within a class, `diversity_detail` from z0 alone."]
    if scores:
        nan = float("nan")
        lines += ["", "| model | z0_spread | cond_acc | diversity | diversity_detail | fid | recall |",
                  "|---|---|---|---|---|---|---|"]
        for tag, s in scores.items():
            lines.append(f"| {tag} | {s['z0_spread']:.3f} | {s.get('cond_acc', nan):.3f} | "
                         f"{s.get('diversity', nan):.3f} | {s.get('diversity_detail', nan):.3f} | "
                         f"{s.get('fid', nan):.2f} | {s.get('recall', nan):.3f} |")
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({meta['wall_time_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

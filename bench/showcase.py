"""Pictures and held-out scores of one trained text-to-image model:
``python -m bench.showcase --checkpoint results/checkpoints/stackgan --out results/stackgan/showcase``.

Writes, with the command in ``README.md`` beside them:

- ``held_out.png``: captions of held-out (shape, colour) combinations (``test_unseen``), Stage-I
  beside Stage-II for four seeds each;
- ``interpolation.png``: one row between two captions' embeddings, noise fixed, CA at its mean;
- ``noise.png``: one caption, sixteen seeds;
- ``scores.json``: what the evaluation classifier reads from the model's final images and, for a
  stacked model, from its Stage-I images (per-attribute accuracy), the domain FID and the
  per-caption diversity, via :func:`core.metrics.evaluate`, on two
  kinds of held-out captions: ``test`` (captions of test scenes, never trained on; every (shape,
  colour) pair occurs in training) and ``test_unseen`` (zero-shot: (shape, colour) pairs that never
  occur in training).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from core.checkpoint import git_sha
from core.data import load_dataset
from core.data.base import DatasetError
from core.pipeline import Pipeline
from core.viz import captioned_rows


def _zero_eps(noise: dict) -> dict:
    return {k: torch.zeros_like(v) if k.startswith("eps") else v for k, v in noise.items()}


def _stack(out: dict, res: int) -> list[torch.Tensor]:
    """The outputs to show, each at the final resolution (Stage-I upscaled by nearest neighbour)."""
    imgs = []
    if "stage1" in out:
        imgs.append(torch.nn.functional.interpolate(out["stage1"], size=res, mode="nearest"))
    imgs.append(out["image"])
    return imgs


class StageView:
    """One intermediate output of a stacked pipeline (e.g. ``stage1``) as a pipeline of its own, so
    :func:`core.metrics.evaluate` scores what that stage draws."""

    def __init__(self, pipe: Pipeline, key: str, resolution: int):
        self.pipe, self.key, self.cfg, self.resolution = pipe, key, pipe.cfg, resolution

    def generate(self, captions, seeds):
        return {"image": self.pipe.generate(captions, seeds=seeds)[self.key]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.showcase", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=1000, help="generated images scored on held-out captions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--splits", default="test,test_unseen", help="comma-separated caption splits to score")
    args = p.parse_args(argv)
    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline.from_checkpoint(args.checkpoint)
    res = pipe.resolution
    unseen = load_dataset(pipe.cfg.dataset, split="test_unseen", resolution=16, seed=pipe.cfg.dataset_seed)
    caps = [unseen[i]["caption"] for i in range(0, len(unseen), max(1, len(unseen) // 6))][:6]
    seeds = [args.seed + k for k in range(4)]

    # held-out captions: per caption, (Stage-I, Stage-II) for each seed
    g = pipe.generate([c for c in caps for _ in seeds], seeds=seeds * len(caps))
    parts = _stack(g, res)
    cols = [p_.view(len(caps), len(seeds), *p_.shape[1:])[:, k] for k in range(len(seeds)) for p_ in parts]
    captioned_rows(torch.stack(cols, 1), caps).save(out / "held_out.png")

    # interpolation between two captions with fixed noise (CA at its mean)
    a, b = caps[0], caps[1]
    ea, eb = pipe.encode([a, b])
    betas = torch.linspace(0, 1, 8)
    emb = (1 - betas)[:, None] * ea + betas[:, None] * eb
    g = pipe.generate(embeddings=emb, noise=_zero_eps(pipe.noise([args.seed] * 8)))
    captioned_rows(g["image"][None], [f"{a}  ->  {b}"], text_width=260).save(out / "interpolation.png")

    # one caption, varied noise
    g = pipe.generate([caps[2]] * 16, seeds=list(range(args.seed, args.seed + 16)))
    captioned_rows(g["image"].view(2, 8, *g["image"].shape[1:]), [caps[2], "(seeds 8–15)"]).save(out / "noise.png")

    from core.metrics import evaluate

    splits = [x for x in args.splits.split(",") if x]
    views = {"final": pipe}
    if "stage1" in g:  # g: the last generation above; a stacked model also returns its Stage-I images
        views["stage1"] = StageView(pipe, "stage1", int(g["stage1"].shape[-1]))
    scores = {}
    for name, view in views.items():
        try:
            scores[name] = {split: dict(evaluate(view, pipe.cfg.dataset, metrics=["fid", "cond_acc", "diversity"],
                                                 n=args.n, seed=args.seed, split=split,
                                                 data_seed=pipe.cfg.dataset_seed)) for split in splits}
        except DatasetError as e:  # e.g. an 8-px smoke Stage-I: the dataset has no real images that small
            print(f"note: {name} images not scored: {e}", file=sys.stderr)
    record = {"command": "python -m bench.showcase " + " ".join(argv if argv is not None else sys.argv[1:]),
              "git_sha": git_sha(), "checkpoint": str(args.checkpoint), "n": args.n,
              "wall_time_s": round(time.time() - t0, 1), "scores": scores}
    (out / "scores.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record["scores"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

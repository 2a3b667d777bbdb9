"""Which visible attributes an unconditional generator covers, read by the dataset's evaluation classifier
(issue #27: where the stacked study's low recall comes from).

For each checkpoint, ``--n`` images at seeds 0..n-1 are classified by every head of the evaluation classifier
(``shapes``: shape, colour, texture, size, background); the same is done for the first ``--n`` real ``val``
items. Per head it prints the number of classes holding at least 1% of the images, the entropy of the
predicted classes (bits), and the total-variation distance to the real split's distribution (0: the same
shares; 1: disjoint). A generator with a good FID and diversity but low recall that covers few colours or
backgrounds has dropped those modes.

    OMP_NUM_THREADS=1 python scripts/attribute_coverage.py --checkpoint RUN/checkpoints/step_0004800 ...
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402


def shares(pred: torch.Tensor, classes: int) -> torch.Tensor:
    """Each class's share of the predictions, ``[classes]``."""
    return torch.bincount(pred, minlength=classes).double() / len(pred)


def coverage(p: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """Classes with ≥ 1% of the images, entropy in bits, and total variation to ``real``'s shares."""
    nz = p[p > 0]
    return {"classes": int((p >= 0.01).sum()), "entropy": float(-(nz * nz.log2()).sum()),
            "tv": float(0.5 * (p - real).abs().sum())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", nargs="+", type=Path, required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--split", default="val")
    a = p.parse_args(argv)

    from core.metrics.classifiers import load_classifier
    from core.metrics.data import load_real, to_uint8
    from core.pipeline import Pipeline

    first = Pipeline.from_checkpoint(a.checkpoint[0])
    dataset, side = first.cfg.dataset, first.resolution
    clf = load_classifier(dataset)
    heads = list(clf.values)
    real = load_real(dataset, a.split, side, n=a.n)
    _, real_pred = clf.net.predict(real.images)
    real_shares = {h: shares(real_pred[h], len(clf.values[h])) for h in heads}

    def line(name: str, preds: dict[str, torch.Tensor]) -> str:
        cells = []
        for h in heads:
            c = coverage(shares(preds[h], len(clf.values[h])), real_shares[h])
            cells.append(f"{c['classes']}/{len(clf.values[h])}, {c['entropy']:.2f} b, tv {c['tv']:.2f}")
        return f"| {name} | " + " | ".join(cells) + " |"

    print(f"{dataset} at {side} px, {a.n} images each; per head: classes with ≥ 1% / all, entropy, total "
          f"variation to real {a.split}")
    print("| images | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    print(line(f"real {a.split}", real_pred))
    for ckpt in a.checkpoint:
        pipe = first if ckpt == a.checkpoint[0] else Pipeline.from_checkpoint(ckpt)
        if pipe.conditions:
            p.error(f"{ckpt}: a conditional generator ({pipe.conditions}); this script reads unconditional ones")
        with torch.no_grad():
            images = torch.cat([pipe.generate(seeds=range(i, min(i + 250, a.n)))["image"]
                                for i in range(0, a.n, 250)])
        _, pred = clf.net.predict(to_uint8(images))
        print(line(str(ckpt), pred), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

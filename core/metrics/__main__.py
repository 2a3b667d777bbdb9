"""Command line for :mod:`core.metrics`.

Score a checkpoint (or a folder of images) against a dataset::

    python -m core.metrics score --checkpoint runs/x --dataset shapes --split test \\
        --metrics is,fid,kid,prc,cond_acc,diversity --n 2000 --seed 0 --out scores.json
    python -m core.metrics score --images samples/ --dataset shapes --metrics is,fid,kid,prc

Train the shipped evaluation networks::

    python -m core.metrics train-classifier --dataset shapes --out results/classifiers/shapes
    python -m core.metrics train-normals --out results/classifiers/shapes-normals
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def _command() -> str:
    return "python -m core.metrics " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.metrics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("score", help="score a checkpoint or a folder of images against a dataset")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint or run directory (core.pipeline loads it)")
    src.add_argument("--images", help="directory of generated PNG/JPEG images (all the same size)")
    s.add_argument("--dataset", help="dataset to compare with (default: the checkpoint's)")
    s.add_argument("--split", default="test", help="real split: test (default), test_unseen, train")
    s.add_argument("--metrics", default=None,
                   help="comma-separated subset of is,fid,kid,prc,cond_acc,diversity,normals "
                        "(default: is,fid,kid,prc,cond_acc,diversity; for --images: is,fid,kid,prc)")
    s.add_argument("--n", type=int, default=2000, help="number of generated images (and real ones)")
    s.add_argument("--seed", type=int, default=0, help="evaluation seed (noise seeds are drawn from it)")
    s.add_argument("--data-seed", type=int, default=None, help="dataset seed (default: the checkpoint's)")
    s.add_argument("--diversity-k", type=int, default=10, help="samples per condition for diversity")
    s.add_argument("--kid-subset-size", type=int, default=None,
                   help="KID subset size (default n/10: subsets smaller than n, so KID's std means something)")
    s.add_argument("--classifier", default=None, help="evaluation classifier directory "
                                                     "(default: results/classifiers/<dataset>)")
    s.add_argument("--inception", action="store_true",
                   help="also compute FID/KID/PRC with the standard TF-2015 Inception (slow on CPU)")
    s.add_argument("--inception-weights", default=None,
                   help="torch-fidelity's weights-inception-2015-12-05-6726825d.pth: use it (adds IS)")
    s.add_argument("--batch-size", type=int, default=250, help="generation / feature batch size")
    s.add_argument("--out", default=None, help="write the scores here as JSON")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument("--threads", type=int, default=None, help="torch intra-op threads")

    t = sub.add_parser("train-classifier", help="train an evaluation classifier on a dataset's train split")
    t.add_argument("--dataset", required=True, help="shapes, mnist5k, ...")
    t.add_argument("--out", default=None, help="checkpoint directory (default: results/classifiers/<dataset>)")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-seed", type=int, default=0)
    t.add_argument("--width", type=int, default=32)
    t.add_argument("--train-size", type=int, default=None, help="use only the first N training items")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--threads", type=int, default=None, help="torch intra-op threads (1 is fastest on a busy CPU)")

    nrm = sub.add_parser("train-normals", help="train the NormalPredictor on shapes")
    nrm.add_argument("--out", default=None, help="checkpoint directory (default: results/classifiers/shapes-normals)")
    nrm.add_argument("--epochs", type=int, default=6)
    nrm.add_argument("--batch-size", type=int, default=64)
    nrm.add_argument("--lr", type=float, default=2e-3)
    nrm.add_argument("--seed", type=int, default=0)
    nrm.add_argument("--data-seed", type=int, default=0)
    nrm.add_argument("--width", type=int, default=8)
    nrm.add_argument("--train-size", type=int, default=None)
    nrm.add_argument("--quiet", action="store_true")
    nrm.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    return p


def _score(a: argparse.Namespace) -> dict:
    from core.metrics import MetricsError, evaluate, evaluate_images
    from core.metrics.data import load_image_folder

    metrics = a.metrics.split(",") if a.metrics else None
    common = dict(split=a.split, n=a.n, seed=a.seed, inception=a.inception or bool(a.inception_weights),
                  inception_weights=a.inception_weights, kid_subset_size=a.kid_subset_size,
                  classifier=a.classifier, batch_size=a.batch_size, progress=not a.quiet)
    if a.images:
        if not a.dataset:
            raise MetricsError("--images needs --dataset (the real data to compare with)")
        images = load_image_folder(a.images, progress=not a.quiet)
        scores = evaluate_images(images, a.dataset, metrics=metrics, data_seed=a.data_seed or 0, **common)
    else:
        from core.pipeline import Pipeline

        pipe = Pipeline.from_checkpoint(a.checkpoint)
        scores = evaluate(pipe, a.dataset, metrics=metrics, data_seed=a.data_seed,
                          diversity_k=a.diversity_k, **common)
    return {"scores": dict(scores), "meta": scores.meta}


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    from core.metrics.data import MetricsError

    if a.threads:
        import torch

        torch.set_num_threads(a.threads)

    try:
        if a.cmd == "score":
            result = _score(a)
            text = json.dumps(result, indent=2, sort_keys=True)
            print(text)
            if a.out:
                Path(a.out).parent.mkdir(parents=True, exist_ok=True)
                Path(a.out).write_text(text + "\n")
        elif a.cmd == "train-classifier":
            from core.metrics.classifiers import default_classifier_path, train_classifier

            meta = train_classifier(a.dataset, a.out or default_classifier_path(a.dataset), epochs=a.epochs,
                                    batch_size=a.batch_size, lr=a.lr, seed=a.seed, data_seed=a.data_seed,
                                    width=a.width, train_size=a.train_size, progress=not a.quiet,
                                    command=_command())
            print(json.dumps({"seconds": meta["train"]["seconds"], "test": meta["test"]}, indent=2))
        elif a.cmd == "train-normals":
            from core.metrics.classifiers import CLASSIFIERS_DIR, NORMALS_NAME, train_normal_predictor

            meta = train_normal_predictor(a.out or CLASSIFIERS_DIR / NORMALS_NAME, epochs=a.epochs,
                                          batch_size=a.batch_size, lr=a.lr, seed=a.seed, data_seed=a.data_seed,
                                          width=a.width, train_size=a.train_size, progress=not a.quiet,
                                          command=_command())
            print(json.dumps({"seconds": meta["train"]["seconds"], "test": meta["test"]}, indent=2))
    except MetricsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

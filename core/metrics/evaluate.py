"""``evaluate``: generate from a pipeline's test conditions and score the images against real ones.

The metrics are those of the registry (:mod:`core.metrics.registry`), each computed by its own code in
:mod:`core.metrics.measures`; here the shared work is done once (real data, generation) and every chosen
metric is computed from it, in the registry's order.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Sequence

import torch

from core.metrics import registry
from core.metrics.classifiers import load_classifier
from core.metrics.data import MetricsError, RealData, load_real, to_uint8
from core.metrics.generation import (GeneratorLike, condition_kinds, conditions_of, generate_images, noise_seeds,
                                     resize_images)
from core.metrics.measures import RELIEF_COS, EvalRun, Settings

METRICS = registry.names()
FIDELITY = tuple(m.name for m in registry.metrics() if m.fidelity)
DEFAULT_METRICS = tuple(m.name for m in registry.metrics() if m.default)
# metrics that compare each image with its own condition: meaningless for an unconditional model
CONDITIONAL = tuple(m.name for m in registry.metrics() if m.conditional)

__all__ = ["CONDITIONAL", "DEFAULT_METRICS", "FIDELITY", "METRICS", "RELIEF_COS", "GeneratorLike", "Scores",
           "condition_kinds", "evaluate", "evaluate_images", "noise_seeds", "resize_images"]


class Scores(dict):
    """Metric name → float (flat, one CSV row each), with provenance in :attr:`meta`.

    Keys: ``is_mean``, ``is_std``, ``fid``, ``kid_mean``, ``kid_std``, ``precision``, ``recall``,
    ``f_score`` (domain classifier features), the same prefixed ``inception_`` (standard Inception),
    ``cond_acc`` (+ ``cond_acc_<attribute>``, ``cond_acc_all``), ``diversity``, ``normal_error_deg``
    (every pixel) and ``normal_error_deg_relief`` (pixels whose conditioning normal tilts > 5°); each
    declared, with its direction and meaning, in :mod:`core.metrics.registry`.
    """

    def __init__(self, scores: dict, meta: dict):
        super().__init__(scores)
        self.meta = meta


def _check_metrics(metrics: Iterable[str] | None, allowed: Sequence[str], default: Sequence[str]) -> list[str]:
    chosen = list(default if metrics is None else metrics)
    bad = [m for m in chosen if m not in allowed]
    if bad or not chosen:
        raise MetricsError(f"unknown or empty metrics {bad or chosen}; choose from {list(allowed)}")
    return chosen


def _chosen(metrics: Iterable[str] | None, kinds: tuple[str, ...]) -> list[str]:
    """The metrics to compute (default: :data:`DEFAULT_METRICS`, less the conditional ones for a pipeline
    with no text or label condition, which may not ask for them)."""
    labelled = "text" in kinds or "label" in kinds
    default = [m for m in DEFAULT_METRICS if labelled or m not in CONDITIONAL]
    chosen = _check_metrics(metrics, METRICS, default)
    if not labelled and any(m in CONDITIONAL for m in chosen):
        raise MetricsError(f"{[m for m in chosen if m in CONDITIONAL]} compare each image with its text or label "
                           f"condition; this pipeline is conditioned on {list(kinds) or 'nothing'}")
    return chosen


def _classifier_path(dataset: str, classifier: str | Path | None, required: bool) -> Path | None:
    try:
        return load_classifier(classifier if classifier is not None else dataset).path
    except MetricsError:
        if required:
            raise
        return None


def _score(run: EvalRun) -> dict[str, float]:
    """Every chosen metric of ``run``, in the registry's order; the keys are written in that order too, the
    fidelity metrics' first, those on the evaluation classifier's features before their ``inception_`` twins."""
    scores: dict[str, float] = {}
    for m in registry.metrics():
        if m.name in run.chosen:
            scores.update(m.compute(run))
    fidelity = [k for k in scores if registry.metric(registry.owner(k)).fidelity]
    ordered = sorted(fidelity, key=lambda k: k.startswith(registry.INCEPTION))  # stable: the classifier's first
    return {k: scores[k] for k in ordered + [k for k in scores if k not in fidelity]}


def _generated_run(pipeline: GeneratorLike, dataset: str, split: str, chosen: list[str], n: int, data_seed: int,
                   classifier: str | Path | None, score_resolution: int | None, settings: Settings) -> EvalRun:
    """The shared work of :func:`evaluate`: the classifier, ``n`` real items and ``n`` images generated from
    their conditions, at the scoring side."""
    kinds = condition_kinds(pipeline)
    native = int(pipeline.resolution)
    resolution = int(score_resolution or native)  # the side every image is scored at
    needs_classifier = any(registry.metric(m).classifier for m in chosen)
    clf_path = _classifier_path(dataset, classifier,
                                required=needs_classifier or not (settings.inception or settings.inception_weights))
    meta = {"dataset": dataset, "split": split, "n": n, "seed": settings.seed, "data_seed": data_seed,
            "resolution": resolution, "native_resolution": native, "metrics": chosen, "conditions": list(kinds),
            "classifier": str(clf_path) if clf_path else None, "notes": [], "seconds": {}}
    if clf_path is None:
        meta["notes"].append(f"no evaluation classifier for {dataset}: only inception_* fidelity metrics")

    t = time.time()
    wants_normals = "structure" in kinds or any(registry.metric(m).real_normals for m in chosen)
    real = load_real(dataset, split, resolution, n=n, seed=data_seed, normals=wants_normals,
                     progress=settings.progress)
    # structure maps condition the generator at its own resolution
    cond_real = (real if resolution == native or "structure" not in kinds else
                 load_real(dataset, split, native, n=n, seed=data_seed, normals=True, progress=settings.progress))
    meta["n_real"] = len(real)
    meta["seconds"]["load_real"] = round(time.time() - t, 2)
    cond = torch.arange(n) % len(real)  # [n] condition (real item) of each generated image
    conditions = conditions_of(cond_real, cond, kinds, dataset, split)

    t = time.time()
    native_fake, fake_normals = generate_images(pipeline, conditions, noise_seeds(settings.seed, n),
                                                settings.batch_size, settings.progress, "eval")
    fake = resize_images(native_fake, resolution)  # [n, C, R, R] uint8 at the scoring side
    if resolution != native:
        meta["notes"].append(f"generated at {native}x{native}, scored at {resolution}x{resolution} (PIL bicubic)")
    meta["seconds"]["generate"] = round(time.time() - t, 2)
    if len(fake) != n:
        raise MetricsError(f"pipeline.generate returned {len(fake)} images for {n} conditions")
    return EvalRun(dataset, split, chosen, fake, real, clf_path, settings, meta, pipeline=pipeline, kinds=kinds,
                   native=native, native_fake=native_fake, fake_normals=fake_normals, cond_real=cond_real, cond=cond,
                   conditions=conditions)


def evaluate(pipeline: GeneratorLike, dataset: str | None = None, metrics: Iterable[str] | None = None,
             n: int = 2000, seed: int = 0, inception: bool = False, *, split: str = "test",
             data_seed: int | None = None, inception_weights: str | None = None, kid_subset_size: int | None = None,
             isc_splits: int = 10, diversity_k: int = 10, classifier: str | Path | None = None,
             batch_size: int = 250, cache: bool = True, progress: bool = False, score_resolution: int | None = None,
             attributes_at: int | None = None) -> Scores:
    """Generate ``n`` images from the conditions of ``n`` test items and score them against real ones.

    The conditions are of the pipeline's kinds (``pipeline.conditions``): captions, class labels,
    real structure maps, or none. Image ``i`` is generated from the condition of item
    ``i % len(split)`` with seed ``noise_seeds(seed, n)[i]``; the real set is ``n`` items of the split at the pipeline's
    resolution (:func:`~core.metrics.data.load_real`: the first ``n`` for ``shapes``, a seeded random
    subset otherwise). IS/FID/KID/PRC come from torch-fidelity with the dataset's evaluation classifier
    (and, with ``inception``, also a standard TF-2015 Inception under ``inception_*`` keys).

    Args:
        pipeline: a ``core.pipeline.Pipeline`` or any :class:`GeneratorLike` returning
            ``{"image": [N, C, H, W] in [-1, 1], ...}``, with ``.resolution`` (and ``.conditions``).
        dataset: dataset name (default: ``pipeline.cfg.dataset``).
        metrics: subset of :data:`METRICS`, the registry's metrics (:mod:`core.metrics.registry`; default
            :data:`DEFAULT_METRICS`, without ``cond_acc`` for a pipeline with no text or label condition).
            ``normals`` needs the pipeline to return the ``normals`` it generated (S²-GAN's structure
            output) or to be structure-conditioned.
        n: number of generated images (also the number of real ones, at most the split's size).
        seed: evaluation seed.
        inception: also compute FID/KID/PRC with the TF-2015 Inception (about 16 images/s on CPU).
        split: real split (``test``, ``test_unseen``, ...).
        data_seed: dataset seed (default: ``pipeline.cfg.data_seed``, else 0).
        inception_weights: torch-fidelity's Inception weights file; if given, its own
            ``inception-v3-compat`` is used (and IS is reported too).
        kid_subset_size: KID subset size (default ``n // 10``, at least 2: subsets smaller than ``n``, so
            KID's spread over subsets means something; clamped to ``n``; the size used is in ``meta``).
        isc_splits: IS splits.
        diversity_k: samples per condition for diversity (over ``n // k`` conditions).
        classifier: evaluation classifier directory (default: the dataset's shipped one).
        batch_size: generation chunk size.
        cache: cache real-image features under ``core.cache.cache_dir("fidelity")``.
        progress: progress bars.
        score_resolution: score every image at this side (a table's highest resolution, so rows at
            different resolutions meet one real reference set): generated images are resized from the
            pipeline's resolution with :func:`resize_images` (PIL bicubic on uint8, anti-aliased when
            shrinking: the filter ``core.data`` resizes real images with), real ones are loaded at it.
            Default: the pipeline's resolution.
        attributes_at: ``cond_acc`` is the mean over the attributes images of this side (a table's
            lowest resolution) can show too, so every row of a table averages the same attributes;
            ``cond_acc_<attribute>`` is still given for every attribute the pipeline's own resolution
            can show. Default: the mean over those.
    Returns:
        The :class:`Scores` (flat floats; provenance and timings in ``.meta``).
    Raises:
        MetricsError: unknown metric, no classifier for the dataset, missing Inception weights,
            or a pipeline output without what a metric needs.
    """
    t0 = time.time()
    chosen = _chosen(metrics, condition_kinds(pipeline))
    cfg = getattr(pipeline, "cfg", None)
    dataset = dataset or getattr(cfg, "dataset", None)
    if not dataset:
        raise MetricsError("pass dataset= (the pipeline has no cfg.dataset)")
    data_seed = data_seed if data_seed is not None else int(getattr(cfg, "data_seed", 0) or 0)
    settings = Settings(seed=seed, inception=inception, inception_weights=inception_weights,
                        kid_subset_size=int(kid_subset_size) if kid_subset_size else max(2, n // 10),
                        isc_splits=isc_splits, diversity_k=diversity_k, batch_size=batch_size, cache=cache,
                        progress=progress, attributes_at=attributes_at)
    run = _generated_run(pipeline, dataset, split, chosen, n, data_seed, classifier, score_resolution, settings)
    scores = _score(run)
    run.meta["seconds"]["total"] = round(time.time() - t0, 2)
    return Scores(scores, run.meta)


def evaluate_images(images: torch.Tensor, dataset: str, metrics: Iterable[str] | None = None, n: int | None = None,
                    seed: int = 0, inception: bool = False, *, split: str = "test", data_seed: int = 0,
                    inception_weights: str | None = None, kid_subset_size: int | None = None, isc_splits: int = 10,
                    classifier: str | Path | None = None, batch_size: int = 250, cache: bool = True,
                    progress: bool = False) -> Scores:
    """Score a set of images (e.g. a folder of PNGs) against a dataset: IS, FID, KID, PRC only.

    Args:
        images: uint8 ``[N, C, H, W]`` (or float in [-1, 1]); real images are loaded at ``H``.
        dataset: dataset to compare with.
        metrics: subset of ``is``, ``fid``, ``kid``, ``prc`` (default: all four).
        n: use the first ``n`` images (default: all); as many real ones.
        seed: unused (kept for a uniform signature with :func:`evaluate`).
        inception, split, data_seed, inception_weights, kid_subset_size, isc_splits, classifier,
        batch_size, cache, progress: as in :func:`evaluate`.
    Returns:
        The :class:`Scores`.
    Raises:
        MetricsError: a conditional metric was asked for (images carry no condition), or as
            :func:`evaluate`.
    """
    t0 = time.time()
    conditional = [m for m in (metrics or ()) if m in METRICS and m not in FIDELITY]
    if conditional:
        raise MetricsError(f"{conditional} need the condition of each image, which a folder of images does not "
                           "carry; score a checkpoint (--checkpoint) for them, or ask only for is,fid,kid,prc")
    chosen = _check_metrics(metrics, FIDELITY, FIDELITY)
    fake = to_uint8(images)[:n] if n else to_uint8(images)
    resolution = int(fake.shape[-1])
    settings = Settings(seed=seed, inception=inception, inception_weights=inception_weights,
                        kid_subset_size=int(kid_subset_size) if kid_subset_size else max(2, len(fake) // 10),
                        isc_splits=isc_splits, batch_size=batch_size, cache=cache, progress=progress)
    clf_path = _classifier_path(dataset, classifier, required=not (inception or inception_weights))
    meta = {"dataset": dataset, "split": split, "n": len(fake), "data_seed": data_seed, "resolution": resolution,
            "metrics": chosen, "classifier": str(clf_path) if clf_path else None, "notes": [], "seconds": {}}
    real: RealData = load_real(dataset, split, resolution, n=len(fake), seed=data_seed, progress=progress)
    meta["n_real"] = len(real)
    scores = _score(EvalRun(dataset, split, chosen, fake, real, clf_path, settings, meta))
    meta["seconds"]["total"] = round(time.time() - t0, 2)
    return Scores(scores, meta)

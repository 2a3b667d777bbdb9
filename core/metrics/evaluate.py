"""``evaluate``: generate from a pipeline's test conditions and score the images against real ones."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from core.cache import cache_dir
from core.metrics.classifiers import load_classifier, unresolvable_attributes
from core.metrics.data import MetricsError, RealData, load_real, to_uint8
from core.metrics.domain import conditional_accuracy, diversity, normal_consistency, stated_mask

FIDELITY = ("is", "fid", "kid", "prc")
# diversity_detail: like diversity, but the k samples of a condition share every noise except the model's
# last (its lowest level, e.g. SGAN's z0): what that noise alone changes (SGAN's Fig. 2c/d)
METRICS = FIDELITY + ("cond_acc", "diversity", "diversity_detail", "normals")
DEFAULT_METRICS = FIDELITY + ("cond_acc", "diversity")
RELIEF_COS = math.cos(math.radians(5.0))  # normals tilted more than 5° from the viewer: the relief, not flat ground


class GeneratorLike(Protocol):
    """What :func:`evaluate` needs: ``core.pipeline.Pipeline`` or any stand-in.

    ``conditions`` lists the condition kinds ``generate`` takes (``("text",)``, ``("label",)``,
    ``("structure",)`` or ``()``); a stand-in without it is taken as text-conditioned.
    ``generate`` is called with the keywords of those kinds (``captions=``, ``labels=``,
    ``structure=``), or ``n=`` for none, and ``seeds=``.
    """

    resolution: int
    conditions: tuple[str, ...]

    def generate(self, captions: Sequence[str] | None = None, *, seeds: Sequence[int], **conditions
                 ) -> dict[str, torch.Tensor]: ...


class Scores(dict):
    """Metric name → float (flat, one CSV row each), with provenance in :attr:`meta`.

    Keys: ``is_mean``, ``is_std``, ``fid``, ``kid_mean``, ``kid_std``, ``precision``, ``recall``,
    ``f_score`` (domain classifier features), the same prefixed ``inception_`` (standard Inception),
    ``cond_acc`` (+ ``cond_acc_<attribute>``, ``cond_acc_all``), ``diversity``, ``normal_error_deg``
    (every pixel) and ``normal_error_deg_relief`` (pixels whose conditioning normal tilts > 5°).
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


def noise_seeds(seed: int, n: int, stream: int = 0) -> list[int]:
    """``n`` per-sample seeds drawn from the evaluation ``seed`` (``stream`` separates uses)."""
    return np.random.default_rng([int(seed), int(stream)]).integers(0, 2**31 - 1, n).tolist()


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` → uint8 ``[N, C, size, size]`` with PIL bicubic (anti-aliased when
    shrinking), the filter :func:`core.data.base.resize_uint8` resizes real images with; unchanged
    when already that size."""
    if images.shape[-1] == size:
        return images
    from core.data.base import resize_uint8

    arrays = images.permute(0, 2, 3, 1).numpy()  # [N, H, W, C]
    out = [resize_uint8(a[..., 0] if a.shape[-1] == 1 else a, size) for a in arrays]
    return torch.from_numpy(np.stack([o[..., None] if o.ndim == 2 else o for o in out])).permute(0, 3, 1, 2).contiguous()


def condition_kinds(pipeline: GeneratorLike) -> tuple[str, ...]:
    """The condition kinds a pipeline (or stand-in) generates from; ``("text",)`` when it does not say."""
    return tuple(getattr(pipeline, "conditions", ("text",)))


def _conditions_of(real: RealData, items: torch.Tensor, kinds: tuple[str, ...], dataset: str, split: str) -> dict:
    """``generate`` keywords for the real items ``items`` ``[N]``: their captions, labels or structure maps."""
    out: dict = {}
    if "text" in kinds:
        captions = [real.captions[i] for i in items.tolist()]
        if any(c is None for c in captions):
            raise MetricsError(f"{dataset}/{split} items have no captions to generate from")
        out["captions"] = captions
    if "label" in kinds:
        out["labels"] = real.labels[items]  # [N]
    if "structure" in kinds:
        if real.normals is None:
            raise MetricsError(f"{dataset}/{split} has no structure maps (normals) to generate from")
        out["structure"] = real.normals[items]  # [N, 3, H, W]
    if not kinds:
        out["n"] = len(items)
    return out


def _chunk(conditions: dict, i: int, j: int) -> dict:
    """Items ``i:j`` of each condition (``n``: how many of those items there are)."""
    return {k: (min(j, v) - i if k == "n" else v[i:j]) for k, v in conditions.items()}


def _generate(pipeline: GeneratorLike, conditions: dict, seeds: list[int] | dict[str, list[int]], batch_size: int,
              progress: bool, what: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Generate in chunks → (uint8 images ``[N, C, H, W]``, normals ``[N, 3, H, W]`` or ``None``).
    ``seeds``: one per sample, or ``{noise name: one per sample}`` (as ``Pipeline.generate`` takes them).

    The normals are the pipeline's ``normals`` output (S²-GAN's generated structure) or, for a
    structure-conditioned pipeline, the structure maps it was given."""
    images, normals = [], []
    total = len(next(iter(seeds.values()))) if isinstance(seeds, dict) else len(seeds)
    for i in tqdm(range(0, total, batch_size), desc=f"generating ({what})", unit="batch",
                  disable=not progress):
        part = _chunk(conditions, i, i + batch_size)
        chunk = ({k: v[i:i + batch_size] for k, v in seeds.items()} if isinstance(seeds, dict)
                 else seeds[i:i + batch_size])
        out = pipeline.generate(**part, seeds=chunk)
        if "image" not in out:
            raise MetricsError(f"pipeline.generate returned {sorted(out)}; expected an 'image' entry [N, C, H, W]")
        images.append(to_uint8(out["image"]))
        if "normals" in out:
            normals.append(out["normals"].float().cpu())
        elif "structure" in part:
            normals.append(torch.as_tensor(part["structure"]).float())
    return torch.cat(images), (torch.cat(normals) if len(normals) == len(images) else None)


def _fidelity_part(fake: torch.Tensor, real: torch.Tensor, chosen: list[str], clf_path: Path | None,
                   inception: bool, inception_weights: str | None, kid_subset_size: int, isc_splits: int,
                   cache: bool, progress: bool, scores: dict, meta: dict) -> None:
    """torch-fidelity metrics with the domain classifier and, if asked, a standard Inception."""
    from core.metrics import fidelity as fd  # imports torch-fidelity (and torchvision): only when needed

    wanted = [m for m in chosen if m in FIDELITY]
    if not wanted:
        return
    common = dict(kid_subset_size=kid_subset_size, isc_splits=isc_splits, progress=progress,
                  cache_root=cache_dir("fidelity") if cache else None)
    if clf_path is not None:
        t = time.time()
        s, notes = fd.fidelity_scores(fake, real, wanted, fd.CLASSIFIER_EXTRACTOR, clf_path, **common)
        scores.update(s)
        meta.update(notes)
        meta["seconds"]["fidelity_classifier"] = round(time.time() - t, 2)
    if inception or inception_weights:
        if inception_weights:
            if not Path(inception_weights).is_file():
                raise MetricsError(f"--inception-weights {inception_weights} is not a file; expected torch-fidelity's "
                                   "weights-inception-2015-12-05-6726825d.pth")
            extractor, weights, metrics = fd.TORCH_FIDELITY_INCEPTION, inception_weights, wanted
        else:
            extractor, weights = fd.FIDHELPER_EXTRACTOR, fd.fid_helper_inception_path()
            metrics = [m for m in wanted if m != "is"]
            if "is" in wanted:
                meta["notes"].append("inception_is not computed: the fid-helper Inception has no logits "
                                     "(pass inception_weights / --inception-weights for IS)")
        t = time.time()
        s, notes = fd.fidelity_scores(fake, real, metrics, extractor, weights, **common)
        scores.update({f"inception_{k}": v for k, v in s.items()})
        meta["inception_extractor"] = f"{extractor} ({weights})"
        meta["seconds"]["fidelity_inception"] = round(time.time() - t, 2)


def _classifier_path(dataset: str, classifier: str | Path | None, required: bool) -> Path | None:
    try:
        return load_classifier(classifier if classifier is not None else dataset).path
    except MetricsError:
        if required:
            raise
        return None


# metrics that compare each image with its own condition: meaningless for an unconditional model
CONDITIONAL = ("cond_acc",)


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
        metrics: subset of :data:`METRICS` (default :data:`DEFAULT_METRICS`, without ``cond_acc`` for a
            pipeline with no text or label condition). ``normals`` needs the pipeline to return the
            ``normals`` it generated (S²-GAN's structure output) or to be structure-conditioned.
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
    kinds = condition_kinds(pipeline)
    labelled = "text" in kinds or "label" in kinds
    default = [m for m in DEFAULT_METRICS if labelled or m not in CONDITIONAL]
    chosen = _check_metrics(metrics, METRICS, default)
    if not labelled and any(m in CONDITIONAL for m in chosen):
        raise MetricsError(f"{[m for m in chosen if m in CONDITIONAL]} compare each image with its text or label "
                           f"condition; this pipeline is conditioned on {list(kinds) or 'nothing'}")
    cfg = getattr(pipeline, "cfg", None)
    dataset = dataset or getattr(cfg, "dataset", None)
    if not dataset:
        raise MetricsError("pass dataset= (the pipeline has no cfg.dataset)")
    data_seed = data_seed if data_seed is not None else int(getattr(cfg, "data_seed", 0) or 0)
    native = int(pipeline.resolution)
    resolution = int(score_resolution or native)  # the side every image is scored at
    kid_subset_size = int(kid_subset_size) if kid_subset_size else max(2, n // 10)
    domain = [m for m in chosen if m in ("cond_acc", "diversity", "diversity_detail")]
    clf_path = _classifier_path(dataset, classifier, required=bool(domain) or not (inception or inception_weights))
    meta = {"dataset": dataset, "split": split, "n": n, "seed": seed, "data_seed": data_seed,
            "resolution": resolution, "native_resolution": native, "metrics": chosen, "conditions": list(kinds), "classifier": str(clf_path) if clf_path else None,
            "notes": [], "seconds": {}}
    if clf_path is None:
        meta["notes"].append(f"no evaluation classifier for {dataset}: only inception_* fidelity metrics")

    t = time.time()
    real = load_real(dataset, split, resolution, n=n, seed=data_seed, normals="structure" in kinds,
                     progress=progress)
    # structure maps condition the generator at its own resolution
    cond_real = (real if resolution == native or "structure" not in kinds else
                 load_real(dataset, split, native, n=n, seed=data_seed, normals=True, progress=progress))
    meta["n_real"] = len(real)
    meta["seconds"]["load_real"] = round(time.time() - t, 2)
    cond = torch.arange(n) % len(real)  # [n] condition (real item) of each generated image
    conditions = _conditions_of(cond_real, cond, kinds, dataset, split)

    t = time.time()
    native_fake, fake_normals = _generate(pipeline, conditions, noise_seeds(seed, n), batch_size, progress, "eval")
    fake = resize_images(native_fake, resolution)  # [n, C, R, R] uint8 at the scoring side
    if resolution != native:
        meta["notes"].append(f"generated at {native}x{native}, scored at {resolution}x{resolution} (PIL bicubic)")
    meta["seconds"]["generate"] = round(time.time() - t, 2)
    if len(fake) != n:
        raise MetricsError(f"pipeline.generate returned {len(fake)} images for {n} conditions")

    scores: dict[str, float] = {}
    _fidelity_part(fake, real.images, chosen, clf_path, inception, inception_weights, kid_subset_size, isc_splits,
                   cache, progress, scores, meta)

    if domain:
        clf = load_classifier(clf_path)
    if "cond_acc" in chosen:
        t = time.time()
        _, predicted = clf.net.predict(fake, progress=progress)
        if "text" in kinds:  # what each caption states (every attribute for class-captioned datasets)
            asked = {a: v[cond] for a, v in real.attributes.items()} or {clf.is_head: real.labels[cond]}
            stated = stated_mask(conditions["captions"], list(asked), dataset)
        else:  # a class label states the class, read by the classifier's class head
            asked, stated = {clf.is_head: real.labels[cond]}, None
        own = unresolvable_attributes(dataset, native)  # this model's images cannot show these
        if own:
            meta["notes"].append(f"not scored at {native}x{native} (the data cannot show it): {sorted(own)}")
        acc = conditional_accuracy(predicted, asked, stated, own)  # cond_acc_<attribute> for what it can show
        if attributes_at and len(asked) > 1:
            # the mean over the attributes every compared model can show (PROTOCOL.md §10)
            common = [a for a in asked if a not in own | unresolvable_attributes(dataset, int(attributes_at))
                      and f"cond_acc_{a}" in acc]
            if not common:
                raise MetricsError(f"no attribute both {native}- and {attributes_at}-px images can show")
            acc["cond_acc"] = sum(acc[f"cond_acc_{a}"] for a in common) / len(common)
            meta["cond_acc_attributes"] = common
        scores.update(acc)
        meta["seconds"]["cond_acc"] = round(time.time() - t, 2)
    for metric in ("diversity", "diversity_detail"):
        if metric not in chosen:
            continue
        t = time.time()
        k = int(diversity_k)
        if k < 2:
            raise MetricsError(f"diversity_k must be >= 2, got {k}")
        n_cond = max(1, min(len(real), n // k))
        # k samples of each of n_cond conditions (an unconditional model: n_cond groups of k samples)
        div_items = torch.arange(n_cond).repeat_interleave(k)  # [n_cond * k]
        seeds = noise_seeds(seed, n_cond * k, stream=1)
        if metric == "diversity_detail":
            names = list(getattr(pipeline, "noise_names", ()) or ())
            if not names:
                raise MetricsError("diversity_detail needs pipeline.noise_names (the model's noises, lowest level last)")
            # every noise but the last: one seed per condition (repeated k times); the last: k seeds
            upper = [s for s in noise_seeds(seed, n_cond, stream=2) for _ in range(k)]
            seeds = {name: upper for name in names[:-1]} | {names[-1]: seeds}
        div_images, _ = _generate(pipeline, _conditions_of(cond_real, div_items, kinds, dataset, split),
                                  seeds, batch_size, progress, metric)
        div_images = resize_images(div_images, resolution)
        features, _ = clf.net.predict(div_images, progress=progress)  # [n_cond * k, F]
        scores[metric] = diversity(features.view(n_cond, k, -1))
        meta[f"{metric}_conditions"], meta[f"{metric}_k"] = n_cond, k
        meta["seconds"][metric] = round(time.time() - t, 2)
    if "normals" in chosen:
        if fake_normals is None:
            raise MetricsError("the 'normals' metric needs pipeline.generate to return the 'normals' [N, 3, H, W] "
                               "each image was generated from (S²-GAN's structure output), or a "
                               "structure-conditioned pipeline")
        t = time.time()
        scores["normal_error_deg"] = normal_consistency(native_fake, fake_normals)
        relief = fake_normals[:, 2:3] < RELIEF_COS  # [N, 1, H, W] pixels whose normal tilts > 5°
        if relief.any():
            scores["normal_error_deg_relief"] = normal_consistency(native_fake, fake_normals, relief)
        meta["seconds"]["normals"] = round(time.time() - t, 2)
    meta["seconds"]["total"] = round(time.time() - t0, 2)
    return Scores(scores, meta)


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
    kid_subset_size = int(kid_subset_size) if kid_subset_size else max(2, len(fake) // 10)
    clf_path = _classifier_path(dataset, classifier, required=not (inception or inception_weights))
    meta = {"dataset": dataset, "split": split, "n": len(fake), "data_seed": data_seed, "resolution": resolution,
            "metrics": chosen, "classifier": str(clf_path) if clf_path else None, "notes": [], "seconds": {}}
    real: RealData = load_real(dataset, split, resolution, n=len(fake), seed=data_seed, progress=progress)
    meta["n_real"] = len(real)
    scores: dict[str, float] = {}
    _fidelity_part(fake, real.images, chosen, clf_path, inception, inception_weights, kid_subset_size, isc_splits,
                   cache, progress, scores, meta)
    meta["seconds"]["total"] = round(time.time() - t0, 2)
    return Scores(scores, meta)

"""The metrics :func:`core.metrics.evaluate` computes, each registered next to its code with
:func:`core.metrics.registry.register`, and :class:`EvalRun`, the work they share (real and generated
images, the conditions, the evaluation classifier, one torch-fidelity pass per feature space), done once.

The order of the registrations below is the order :data:`core.metrics.evaluate.METRICS` lists the
metrics in and the order their score keys are written in.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.cache import cache_dir
from core.metrics.classifiers import load_classifier, unresolvable_attributes
from core.metrics.data import MetricsError, RealData
from core.metrics.domain import (conditional_accuracy, diversity, normal_consistency, normal_spread, stated_mask,
                                 structure_distance)
from core.metrics.generation import GeneratorLike, conditions_of, generate_images, noise_seeds, resize_images
from core.metrics.registry import INCEPTION, ScoreKey, metric, register

RELIEF_COS = math.cos(math.radians(5.0))  # normals tilted more than 5° from the viewer: the relief, not flat ground


@dataclass(frozen=True)
class Settings:
    """The evaluation settings metrics read (:func:`core.metrics.evaluate`'s keyword arguments)."""

    seed: int = 0
    inception: bool = False
    inception_weights: str | None = None
    kid_subset_size: int = 2
    isc_splits: int = 10
    diversity_k: int = 10
    batch_size: int = 250
    cache: bool = True
    progress: bool = False
    attributes_at: int | None = None


@dataclass
class EvalRun:
    """One evaluation's shared work: what every metric reads. ``fake`` and ``real`` are at the scoring
    side; the generation fields are empty when scoring a folder of images (no pipeline, no condition)."""

    dataset: str
    split: str
    chosen: list[str]  # the metrics asked for
    fake: torch.Tensor  # uint8 [n, C, R, R] generated images at the scoring side R
    real: RealData  # real items at the scoring side
    clf_path: Path | None  # the evaluation classifier (None: Inception features only)
    settings: Settings
    meta: dict  # provenance, notes and timings (Scores.meta)
    pipeline: GeneratorLike | None = None
    kinds: tuple[str, ...] = ()  # the pipeline's condition kinds
    native: int = 0  # the pipeline's own resolution
    native_fake: torch.Tensor | None = None  # uint8 [n, C, native, native]
    fake_normals: torch.Tensor | None = None  # [n, 3, native, native]: what each image was made from, or None
    cond_real: RealData | None = None  # real items at the pipeline's resolution (its structure conditions)
    cond: torch.Tensor | None = None  # [n] the real item whose condition made each image
    conditions: dict = field(default_factory=dict)  # the generate keywords of those conditions
    _memo: dict = field(default_factory=dict, repr=False)

    @property
    def resolution(self) -> int:
        return int(self.fake.shape[-1])

    def classifier(self):
        """The evaluation classifier, loaded once."""
        if "classifier" not in self._memo:
            self._memo["classifier"] = load_classifier(self.clf_path)
        return self._memo["classifier"]

    def fidelity(self) -> dict[str, float]:
        """Every torch-fidelity score asked for, from one pass per feature space (run once)."""
        if "fidelity" not in self._memo:
            self._memo["fidelity"] = _fidelity_pass(self)
        return self._memo["fidelity"]


# ------------------------------------------------------------------------------------------ fidelity metrics

def _fidelity_pass(run: EvalRun) -> dict[str, float]:
    """torch-fidelity metrics with the domain classifier and, if asked, a standard Inception (``inception_*``)."""
    from core.metrics import fidelity as fd  # imports torch-fidelity (and torchvision): only when needed

    s = run.settings
    wanted = [m for m in run.chosen if metric(m).fidelity]
    scores: dict[str, float] = {}
    if not wanted:
        return scores
    common = dict(kid_subset_size=s.kid_subset_size, isc_splits=s.isc_splits, progress=s.progress,
                  cache_root=cache_dir("fidelity") if s.cache else None)
    if run.clf_path is not None:
        t = time.time()
        found, notes = fd.fidelity_scores(run.fake, run.real.images, wanted, fd.CLASSIFIER_EXTRACTOR, run.clf_path,
                                          **common)
        scores.update(found)
        run.meta.update(notes)
        run.meta["seconds"]["fidelity_classifier"] = round(time.time() - t, 2)
    if s.inception or s.inception_weights:
        extractor, weights, metrics = _inception_extractor(fd, s.inception_weights, wanted, run.meta)
        t = time.time()
        found, _ = fd.fidelity_scores(run.fake, run.real.images, metrics, extractor, weights, **common)
        scores.update({f"{INCEPTION}{k}": v for k, v in found.items()})
        run.meta["inception_extractor"] = f"{extractor} ({weights})"
        run.meta["seconds"]["fidelity_inception"] = round(time.time() - t, 2)
    return scores


def _inception_extractor(fd, inception_weights: str | None, wanted: list[str], meta: dict
                         ) -> tuple[str, str | Path, list[str]]:
    """(extractor, weights, metrics it can give) of the standard Inception: torch-fidelity's own with
    ``inception_weights``, else fid-helper's (no logits, so no IS: noted in ``meta``)."""
    if inception_weights:
        if not Path(inception_weights).is_file():
            raise MetricsError(f"--inception-weights {inception_weights} is not a file; expected torch-fidelity's "
                               "weights-inception-2015-12-05-6726825d.pth")
        return fd.TORCH_FIDELITY_INCEPTION, inception_weights, wanted
    if "is" in wanted:
        meta["notes"].append("inception_is not computed: the fid-helper Inception has no logits "
                             "(pass inception_weights / --inception-weights for IS)")
    return fd.FIDHELPER_EXTRACTOR, fd.fid_helper_inception_path(), [m for m in wanted if m != "is"]


def _with_inception(*keys: ScoreKey) -> tuple[ScoreKey, ...]:
    """``keys`` and the same measured on the standard Inception-v3's features (``inception_<key>``)."""
    def standard(k: ScoreKey) -> ScoreKey:
        name = f"{k.label} (standard Inception-v3)" if k.label.startswith("Inception") else f"Inception {k.label}"
        return ScoreKey(INCEPTION + k.key, k.direction, k.unit, name,
                        f"{k.label} with the standard Inception-v3 features instead of the evaluation classifier's")
    return keys + tuple(standard(k) for k in keys)


def _own_fidelity_scores(run: EvalRun, name: str) -> dict[str, float]:
    """The scores of fidelity metric ``name`` (its keys, and their ``inception_`` twins) from the shared pass."""
    own = {k.key for k in metric(name).keys}
    return {k: v for k, v in run.fidelity().items() if k in own}


@register("is", _with_inception(
    ScoreKey("is_mean", "higher", "score (1 to the number of classes)", "Inception score",
             "how confidently, and how evenly over the classes, the evaluation classifier recognises a class in "
             "the images (at most the number of classes)"),
    ScoreKey("is_std", "lower", "score", "Inception score spread",
             "the standard deviation of the Inception score over its splits (lower: a steadier estimate)")),
    fidelity=True)
def inception_score(run: EvalRun) -> dict[str, float]:
    return _own_fidelity_scores(run, "is")


@register("fid", _with_inception(
    ScoreKey("fid", "lower", "squared feature distance", "FID",
             "Fréchet distance between the classifier's features of generated and real images: how far the "
             "images are, as a whole, from the real ones")),
    fidelity=True)
def frechet_distance(run: EvalRun) -> dict[str, float]:
    return _own_fidelity_scores(run, "fid")


@register("kid", _with_inception(
    ScoreKey("kid_mean", "lower", "squared feature distance (MMD²)", "KID",
             "kernel distance on the same features; like FID, but less biased with few images"),
    ScoreKey("kid_std", "lower", "squared feature distance (MMD²)", "KID spread",
             "the standard deviation of KID over its random subsets (lower: a steadier estimate)")),
    fidelity=True)
def kernel_distance(run: EvalRun) -> dict[str, float]:
    return _own_fidelity_scores(run, "kid")


@register("prc", _with_inception(
    ScoreKey("precision", "higher", "fraction", "precision",
             "the share of generated images that have a real image near them in the classifier's features: how "
             "many of the images look like real ones"),
    ScoreKey("recall", "higher", "fraction", "recall",
             "the share of real images that have a generated image near them in the classifier's features: how "
             "much of the real data the model covers"),
    ScoreKey("f_score", "higher", "fraction", "precision-recall F-score",
             "the harmonic mean of precision and recall")),
    fidelity=True)
def precision_recall(run: EvalRun) -> dict[str, float]:
    return _own_fidelity_scores(run, "prc")


# -------------------------------------------------------------------------------- conditional accuracy

@register("cond_acc", (
    ScoreKey("cond_acc", "higher", "fraction", "conditional accuracy",
             "how often the evaluation classifier reads back what each image was asked for: every attribute its "
             "caption states, or its class label (in tables scored under the protocol: the mean over the "
             "attributes every row can show)"),
    ScoreKey("cond_acc_all", "higher", "fraction", "all-attributes accuracy",
             "the share of images in which the evaluation classifier reads back every attribute their caption "
             "states"),
    ScoreKey("cond_acc_<attribute>", "higher", "fraction", "<attribute> accuracy",
             "how often the evaluation classifier reads back the <attribute> in the images whose caption states "
             "it")),
    conditional=True, classifier=True)
def conditional_accuracy_score(run: EvalRun) -> dict[str, float]:
    """``cond_acc`` (+ ``cond_acc_<attribute>`` and ``cond_acc_all`` with several attributes): does the
    classifier read back each image's condition (``attributes_at``: the mean over the attributes images of
    that side can show too)."""
    t = time.time()
    clf, dataset, native = run.classifier(), run.dataset, run.native
    _, predicted = clf.net.predict(run.fake, progress=run.settings.progress)
    if "text" in run.kinds:  # what each caption states (every attribute for class-captioned datasets)
        asked = {a: v[run.cond] for a, v in run.real.attributes.items()} or {clf.is_head: run.real.labels[run.cond]}
        stated = stated_mask(run.conditions["captions"], list(asked), dataset)
    else:  # a class label states the class, read by the classifier's class head
        asked, stated = {clf.is_head: run.real.labels[run.cond]}, None
    own = unresolvable_attributes(dataset, native)  # this model's images cannot show these
    if own:
        run.meta["notes"].append(f"not scored at {native}x{native} (the data cannot show it): {sorted(own)}")
    acc = conditional_accuracy(predicted, asked, stated, own)  # cond_acc_<attribute> for what it can show
    at = run.settings.attributes_at
    if at and len(asked) > 1:
        # the mean over the attributes every compared model can show (PROTOCOL.md §10)
        common = [a for a in asked if a not in own | unresolvable_attributes(dataset, int(at))
                  and f"cond_acc_{a}" in acc]
        if not common:
            raise MetricsError(f"no attribute both {native}- and {at}-px images can show")
        acc["cond_acc"] = sum(acc[f"cond_acc_{a}"] for a in common) / len(common)
        run.meta["cond_acc_attributes"] = common
    run.meta["seconds"]["cond_acc"] = round(time.time() - t, 2)
    return acc


# ------------------------------------------------------------------------------------------------ diversity

def _diversity(run: EvalRun, name: str, detail: bool) -> dict[str, float]:
    """Mean pairwise feature distance among ``k`` samples of each of ``n // k`` conditions; ``detail``:
    the samples of a condition share every noise but the model's last (lowest level)."""
    t = time.time()
    s = run.settings
    k = int(s.diversity_k)
    if k < 2:
        raise MetricsError(f"diversity_k must be >= 2, got {k}")
    n_cond = max(1, min(len(run.real), len(run.fake) // k))
    # k samples of each of n_cond conditions (an unconditional model: n_cond groups of k samples)
    items = torch.arange(n_cond).repeat_interleave(k)  # [n_cond * k]
    seeds = noise_seeds(s.seed, n_cond * k, stream=1)
    if detail:
        names = list(getattr(run.pipeline, "noise_names", ()) or ())
        if not names:
            raise MetricsError("diversity_detail needs pipeline.noise_names (the model's noises, lowest level last)")
        # every noise but the last: one seed per condition (repeated k times); the last: k seeds
        upper = [x for x in noise_seeds(s.seed, n_cond, stream=2) for _ in range(k)]
        seeds = {noise: upper for noise in names[:-1]} | {names[-1]: seeds}
    images, _ = generate_images(run.pipeline, conditions_of(run.cond_real, items, run.kinds, run.dataset, run.split),
                                seeds, s.batch_size, s.progress, name)
    images = resize_images(images, run.resolution)
    features, _ = run.classifier().net.predict(images, progress=s.progress)  # [n_cond * k, F]
    score = diversity(features.view(n_cond, k, -1))
    run.meta[f"{name}_conditions"], run.meta[f"{name}_k"] = n_cond, k
    run.meta["seconds"][name] = round(time.time() - t, 2)
    return {name: score}


@register("diversity", (
    ScoreKey("diversity", "two-sided", "feature distance (0 to 2)", "diversity",
             "how different the images of one condition are from each other in the evaluation classifier's "
             "features (0 = the model ignores its random noise); the real data's own diversity is the target"),),
    classifier=True)
def diversity_score(run: EvalRun) -> dict[str, float]:
    return _diversity(run, "diversity", detail=False)


@register("diversity_detail", (
    ScoreKey("diversity_detail", "two-sided", "feature distance (0 to 2)", "detail diversity",
             "like diversity, but only the model's last noise varies (for SGAN: fixed class and z1, different z0), "
             "so it measures what that noise alone changes (0 = ignored)"),),
    default=False, classifier=True)
def detail_diversity_score(run: EvalRun) -> dict[str, float]:
    return _diversity(run, "diversity_detail", detail=True)


# -------------------------------------------------------------------------------------- normal consistency

@register("normals", (
    ScoreKey("normal_error_deg", "lower", "degrees", "normal error",
             "the mean angle between the surface normals a normal predictor reads from each image and the normals "
             "it was generated from, over every pixel"),
    ScoreKey("normal_error_deg_relief", "lower", "degrees", "relief normal error",
             "the same angle over the pixels whose normal tilts more than 5° from the viewer (the relief, not flat "
             "ground)")),
    default=False)
def normals_score(run: EvalRun) -> dict[str, float]:
    """Angular error between the normals predicted from each image and those it was generated from."""
    if run.fake_normals is None:
        raise MetricsError("the 'normals' metric needs pipeline.generate to return the 'normals' [N, 3, H, W] "
                           "each image was generated from (S²-GAN's structure output), or a "
                           "structure-conditioned pipeline")
    t = time.time()
    scores = {"normal_error_deg": normal_consistency(run.native_fake, run.fake_normals)}
    relief = run.fake_normals[:, 2:3] < RELIEF_COS  # [N, 1, H, W] pixels whose normal tilts > 5°
    if relief.any():
        scores["normal_error_deg_relief"] = normal_consistency(run.native_fake, run.fake_normals, relief)
    run.meta["seconds"]["normals"] = round(time.time() - t, 2)
    return scores


@register("normal_maps", (
    ScoreKey("structure_spread", "two-sided", "normal components (0 to 1)", "structure spread",
             "how much the generated normal maps differ from one another (the per-pixel standard deviation over "
             "maps, averaged; 0 = one map for every seed); the real maps' own spread is the target"),
    ScoreKey("structure_fd", "lower", "squared distance of pooled normals", "structure distance",
             "the Fréchet distance between generated and real normal maps, each averaged over 4 × 4 blocks of a "
             "32² map: how far the geometry a model draws is, as a whole, from the real geometry")),
    default=False, real_normals=True)
def structure_score(run: EvalRun) -> dict[str, float]:
    """Spread of the generated normal maps and their distance to the real split's maps."""
    if run.fake_normals is None:
        raise MetricsError("the 'normal_maps' metric needs pipeline.generate to return the 'normals' [N, 3, H, W] "
                           "it drew (S²-GAN's Structure-GAN)")
    if run.real.normals is None:
        raise MetricsError(f"the 'normal_maps' metric needs the real normal maps of {run.dataset}/{run.split}")
    t = time.time()
    scores = {"structure_spread": normal_spread(run.fake_normals),
              "structure_fd": structure_distance(run.fake_normals, run.real.normals)}
    run.meta["seconds"]["normal_maps"] = round(time.time() - t, 2)
    return scores

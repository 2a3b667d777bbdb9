"""Our own measures: conditional accuracy, per-condition diversity and normal consistency.

- **Conditional accuracy**: the fraction of generated images whose attributes, as read by the
  evaluation classifier, match the condition they were generated from. ``shapes`` captions
  state only some attributes (every template names the shape and the colour; texture, size and
  background only some), so each attribute is scored only on images whose caption states it
  (:func:`stated_mask`; the dataset's caption grammar, declared in its
  :class:`~core.data.DatasetTraits`, parses the caption back into attribute ids).
- **Diversity**: the mean pairwise distance between the classifier features of ``k`` samples
  generated from one condition with different seeds, averaged over conditions. Features are
  L2-normalised, so distances lie in [0, 2]; a generator that ignores its noise scores 0.
- **Normal consistency** (S²-GAN, Wang & Gupta 2016 §5): the mean angle between the normals a
  separately trained :class:`~core.metrics.classifiers.NormalPredictor` reads from a generated
  image and the normals it was generated from.
- **Structure spread and structure distance** (S²-GAN's Structure-GAN, issue #27): how much generated
  normal maps differ from one another (:func:`normal_spread`) and how far their distribution is from
  the real maps' (:func:`structure_distance`), read from the maps themselves, with no network.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

from core.data import dataset_traits
from core.losses import angular_error
from core.metrics.classifiers import NormalPredictor, load_normal_predictor
from core.metrics.data import MetricsError


# ----------------------------------------------------------------------------------- captions
def caption_attributes(caption: str, dataset: str = "shapes") -> dict[str, int] | None:
    """The attributes a caption of ``dataset`` states, as value ids (``None`` if it states none
    the dataset can parse).

    The caption grammar belongs to the dataset (:attr:`core.data.DatasetTraits.caption_attributes`;
    for ``shapes``, :func:`core.data.shapes.caption_attributes`). Example: ``"a plain red star on a
    navy background"`` → ``{"texture": 0, "color": 0, "shape": 3, "background": 3}`` holds exactly
    the attributes the caption names. A dataset whose captions state only the class gives ``None``.
    """
    parse = dataset_traits(dataset).caption_attributes
    return parse(caption) if parse is not None else None


def stated_mask(captions: list[str | None], attributes: list[str], dataset: str) -> dict[str, torch.Tensor]:
    """Which attributes each caption states: attribute → bool ``[N]``.

    A dataset with a caption grammar (``shapes``) has its captions parsed
    (:attr:`~core.data.DatasetTraits.caption_attributes`); a caption that matches no template, or
    none at all, counts as stating only the dataset's ``always_stated`` attributes (``shapes``:
    the shape and the colour, which every template names). Other datasets state their one class
    attribute in every caption, so every attribute counts as stated.

    Args:
        captions: ``N`` captions (``None`` or ``""`` where an item has none).
        attributes: the attributes to report.
        dataset: the dataset's registered name (its :func:`core.data.dataset_traits` are used).
    """
    n = len(captions)
    traits = dataset_traits(dataset)
    if traits.caption_attributes is None:
        return {a: torch.ones(n, dtype=torch.bool) for a in attributes}
    out = {a: torch.zeros(n, dtype=torch.bool) for a in attributes}
    for i, c in enumerate(captions):
        said = traits.caption_attributes(c) if c else None
        for a in (said.keys() if said is not None else traits.always_stated):
            if a in out:
                out[a][i] = True
    return out


# ----------------------------------------------------------------------------------- metrics
def conditional_accuracy(predicted: dict[str, torch.Tensor], conditions: dict[str, torch.Tensor],
                         stated: dict[str, torch.Tensor] | None = None, skip: set[str] = frozenset()
                         ) -> dict[str, float]:
    """Agreement between what the classifier reads and what was asked for.

    Args:
        predicted: attribute → predicted ids ``[N]`` (from the evaluation classifier).
        conditions: attribute → requested ids ``[N]`` (the condition each image was made from).
        stated: attribute → bool ``[N]``, which images' captions state the attribute
            (default: all).
        skip: attributes not to score (e.g. textures a 16×16 image cannot show).
    Returns:
        ``cond_acc`` (the mean over attributes of their accuracies) and, with more than one
        attribute, ``cond_acc_<attr>`` for each and ``cond_acc_all`` (fraction of images with every
        stated attribute right).
    Raises:
        MetricsError: no attribute in common, or sizes disagree.
    """
    names = [a for a in conditions if a in predicted and a not in skip]
    if not names:
        raise MetricsError(f"no attribute to score: classifier gives {sorted(predicted)}, conditions have "
                           f"{sorted(conditions)}, skipped {sorted(skip)}")
    n = len(conditions[names[0]])
    out, all_ok = {}, torch.ones(n, dtype=torch.bool)
    for a in names:
        if len(predicted[a]) != n:
            raise MetricsError(f"{len(predicted[a])} predictions but {n} conditions for {a!r}")
        said = stated[a] if stated is not None else torch.ones(n, dtype=torch.bool)
        ok = predicted[a] == conditions[a]
        all_ok &= ok | ~said
        if said.any():
            out[f"cond_acc_{a}"] = float(ok[said].float().mean())
    scored = [v for v in out.values()]
    result = {"cond_acc": sum(scored) / len(scored)}
    if len(names) > 1:
        result.update(out)
        result["cond_acc_all"] = float(all_ok.float().mean())
    return result


def diversity(features: torch.Tensor) -> float:
    """Mean pairwise distance among samples of one condition, averaged over conditions.

    Args:
        features: ``[C, k, F]``, features of ``k ≥ 2`` samples for each of ``C`` conditions.
    Returns:
        The mean over conditions of the mean L2 distance between the L2-normalised features of
        every pair of its samples (0 when the samples are identical; at most 2).
    Raises:
        MetricsError: fewer than two samples per condition.
    """
    if features.dim() != 3 or features.shape[1] < 2:
        raise MetricsError(f"diversity needs features [conditions, k >= 2, F], got {tuple(features.shape)}")
    f = F.normalize(features.float(), dim=-1)  # [C, k, F]
    d = torch.cdist(f, f)  # [C, k, k]
    k = f.shape[1]
    return float(d.sum((1, 2)).div(k * (k - 1)).mean())


@torch.no_grad()
def normal_consistency(images: torch.Tensor, normals: torch.Tensor, mask: torch.Tensor | None = None,
                       predictor: NormalPredictor | None = None, batch_size: int = 250) -> float:
    """Mean angular error (degrees) between normals predicted from ``images`` and ``normals``.

    Args:
        images: ``[N, C, H, W]``, uint8 or float in [-1, 1] (any size; resized for the predictor).
        normals: ``[N, 3, H, W]`` unit normals the images were generated from, in the frame every
            dataset shares (x right, y down, z towards the viewer; :mod:`core.data.base`).
        mask: optional ``[N, 1, H, W]`` weights (e.g. the object mask); default: every pixel.
        predictor: the NormalPredictor (default: the shipped one).
        batch_size: images per forward pass.
    Returns:
        The pixel-weighted mean angle in degrees (0 = perfectly consistent; about 90 for random).
    Raises:
        MetricsError: sizes disagree or no predictor is available.
    """
    if normals.dim() != 4 or normals.shape[1] != 3 or len(images) != len(normals):
        raise MetricsError(f"expected normals [N, 3, H, W] for {len(images)} images, got {tuple(normals.shape)}")
    if mask is not None and (mask.shape[0] != len(normals) or mask.shape[-2:] != normals.shape[-2:]):
        raise MetricsError(f"mask {tuple(mask.shape)} does not fit normals {tuple(normals.shape)}")
    net = predictor if predictor is not None else load_normal_predictor()
    net.eval()
    total, weight = 0.0, 0.0
    for i in range(0, len(images), batch_size):
        pred = net.predict(images[i:i + batch_size], size=normals.shape[-1])  # [B, 3, H, W]
        err = angular_error(pred, normals[i:i + batch_size].float())  # [B, 1, H, W]
        w = mask[i:i + batch_size].float() if mask is not None else torch.ones_like(err)
        total += float((err * w).sum())
        weight += float(w.sum())
    if weight == 0:
        raise MetricsError("normal_consistency: the mask selects no pixel")
    return total / weight


# ----------------------------------------------------------------------------------- normal maps
STRUCTURE_SIDE = 32  # maps are compared at 32 × 32 ...
STRUCTURE_POOL = 4   # ... average-pooled 4 × 4: 8 × 8 × 3 = 192 numbers per map


def _check_maps(maps: torch.Tensor, what: str) -> None:
    if maps.dim() != 4 or maps.shape[1] != 3 or len(maps) < 2:
        raise MetricsError(f"{what}: expected at least two normal maps [N, 3, H, W], got {tuple(maps.shape)}")


def normal_spread(maps: torch.Tensor) -> float:
    """How much normal maps differ from one another: the standard deviation over the maps of each pixel's
    normal component, averaged over pixels and the three components. 0: every map is the same; the real
    ``shapes`` val maps at 32 px spread by about 0.06 (a flat background with thin bevelled outlines).

    Args:
        maps: ``[N ≥ 2, 3, H, W]`` unit normals.
    """
    _check_maps(maps, "normal_spread")
    return float(maps.float().std(0).mean())


def pooled_maps(maps: torch.Tensor) -> np.ndarray:
    """``[N, 3, H, W]`` normals → ``[N, 192]`` float64: bilinear to 32² (anti-aliased when shrinking),
    renormalised, then averaged over 4 × 4 blocks."""
    x = maps.float()
    if x.shape[-1] != STRUCTURE_SIDE or x.shape[-2] != STRUCTURE_SIDE:
        x = F.normalize(F.interpolate(x, size=(STRUCTURE_SIDE, STRUCTURE_SIDE), mode="bilinear",
                                      align_corners=False, antialias=x.shape[-1] > STRUCTURE_SIDE), dim=1)
    return F.avg_pool2d(x, STRUCTURE_POOL).flatten(1).double().numpy()


def structure_distance(fake: torch.Tensor, real: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of normal maps, each map reduced to
    :func:`pooled_maps`' 192 numbers: FID's formula on the maps instead of a network's features (pooling
    keeps the layout of the objects and drops pixel-level texture). 0: the same distribution. On ``shapes``
    val (1,000 maps) an all-flat set scores about 0.66 and 1,000 training maps about 0.01 (docs/s2gan.md).

    Args:
        fake, real: ``[N ≥ 2, 3, H, W]`` unit normals (any sides).
    """
    _check_maps(fake, "structure_distance")
    _check_maps(real, "structure_distance")
    a, b = pooled_maps(fake), pooled_maps(real)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # a collapsed set's covariance is singular: its square root is still the answer
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(ca @ cb).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * root))

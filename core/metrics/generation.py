"""Generation for evaluation: the conditions of real items, per-sample seeds, chunked generation and resizing.

What every metric that looks at generated images shares (:mod:`core.metrics.measures`).
"""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from core.metrics.data import MetricsError, RealData, to_uint8


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


def conditions_of(real: RealData, items: torch.Tensor, kinds: tuple[str, ...], dataset: str, split: str) -> dict:
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


def generate_images(pipeline: GeneratorLike, conditions: dict, seeds: list[int] | dict[str, list[int]],
                    batch_size: int, progress: bool, what: str) -> tuple[torch.Tensor, torch.Tensor | None]:
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

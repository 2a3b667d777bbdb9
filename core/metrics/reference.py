"""Real data dressed as a pipeline: the reference row for conditional accuracy and diversity.

:class:`RealDataPipeline` answers ``generate(captions=, seeds=)`` with real images that satisfy each
caption: for a caption it pools every real item with the same stated condition (the attributes a
caption names, parsed by the dataset's ``caption_attributes`` hook, or the class of a
class-captioned dataset) and the seed picks one. ``generate(labels=, seeds=)`` pools by class, and
``generate(n=, seeds=)`` draws any item, so it stands in for label-conditioned and unconditional
models too. ``generate(structure=, seeds=)`` (a normal map per condition) pools the real items of the same
class as the real map nearest each given map (:func:`~core.metrics.domain.pooled_maps` distance): real
images of similar structures, whose spread is the appearance a structure-conditioned model's style noise
should reach (issue #27). Its
scores are what a perfect generator would get from the evaluation networks, so they calibrate a
model's: conditional accuracy ≈ the classifier's accuracy, diversity = the spread of real images
that share a condition. It is a measuring stick, not a model: nothing is generated.
"""
from __future__ import annotations

from typing import Sequence

import torch

from core.data import dataset_traits
from core.metrics.data import MetricsError, RealData


class RealDataPipeline:
    """A "generator" that returns real images matching each caption (see the module docstring).

    Args:
        data: the real items to draw from (e.g. ``load_real("shapes", "test", 64)``).
        dataset: the dataset's name (its captions are parsed into stated attributes by its traits).
        conditions: the condition kinds to answer (default ``("text",)``; ``("label",)`` or ``()`` too).
    """

    def __init__(self, data: RealData, dataset: str, conditions: tuple[str, ...] = ("text",)):
        self.data, self.dataset, self.conditions = data, dataset, tuple(conditions)
        self.traits = dataset_traits(dataset)
        self.resolution = int(data.images.shape[-1])
        self._by_caption = {c: i for i, c in enumerate(data.captions) if c is not None}  # caption -> an item
        self._pools: dict[tuple, list[int]] = {}
        self._pooled: torch.Tensor | None = None  # [M, 192] the items' pooled normal maps, computed when asked

    def _key(self, caption: str) -> tuple:
        """The condition a caption states: sorted (attribute, id) pairs, or ``(("label", y),)``."""
        parse = self.traits.caption_attributes
        if parse is not None and self.data.attributes:
            said = parse(caption)
            if said is None and caption in self._by_caption:  # unparsed: the attributes every caption states
                i = self._by_caption[caption]
                said = {a: int(self.data.attributes[a][i]) for a in self.traits.always_stated}
            if said is not None:
                return tuple(sorted(said.items()))
        elif caption in self._by_caption:
            return (("label", int(self.data.labels[self._by_caption[caption]])),)
        raise MetricsError(f"RealDataPipeline: cannot tell which real items fit the caption {caption!r}")

    def pool(self, caption: str) -> list[int]:
        """Indices of the real items that satisfy ``caption``."""
        key = self._key(caption)
        if key not in self._pools:
            ok = torch.ones(len(self.data), dtype=torch.bool)
            for a, v in key:
                ok &= (self.data.labels if a == "label" else self.data.attributes[a]) == v
            self._pools[key] = ok.nonzero().flatten().tolist()
        if not self._pools[key]:
            raise MetricsError(f"RealDataPipeline: no real item fits the caption {caption!r}")
        return self._pools[key]

    def _label_pool(self, label: int) -> list[int]:
        key = (("label", int(label)),)
        if key not in self._pools:
            self._pools[key] = (self.data.labels == int(label)).nonzero().flatten().tolist()
        if not self._pools[key]:
            raise MetricsError(f"RealDataPipeline: no real item has label {int(label)}")
        return self._pools[key]

    def _structure_labels(self, structure: torch.Tensor) -> list[int]:
        """The class of the real item whose normal map is nearest each of ``structure`` ``[N, 3, H, W]``."""
        from core.metrics.domain import pooled_maps

        if self.data.normals is None:
            raise MetricsError("RealDataPipeline: structure conditions need the real items' normals "
                               "(load_real(..., normals=True))")
        if self._pooled is None:
            self._pooled = torch.from_numpy(pooled_maps(self.data.normals))  # [M, 192]
        nearest = torch.cdist(torch.from_numpy(pooled_maps(structure)), self._pooled).argmin(1)  # [N]
        return self.data.labels[nearest].tolist()

    @torch.no_grad()
    def generate(self, captions: Sequence[str] | None = None, seeds: Sequence[int] | int = 0, *, labels=None,
                 n: int | None = None, structure: torch.Tensor | None = None, **unused) -> dict[str, torch.Tensor]:
        """``{"image": [N, C, H, W]}`` in [-1, 1]: for condition ``i``, item ``pool[seeds[i] % len(pool)]``,
        where the pool holds the items fitting caption ``i`` (or label ``i``, or the class of the real map
        nearest structure map ``i``; every item for ``n=``)."""
        if captions is not None:
            pools = [self.pool(c) for c in captions]
        elif labels is not None:
            pools = [self._label_pool(y) for y in torch.as_tensor(labels).flatten().tolist()]
        elif structure is not None:
            pools = [self._label_pool(y) for y in self._structure_labels(structure)]
        else:
            count = n if n is not None else (1 if isinstance(seeds, int) else len(seeds))
            pools = [list(range(len(self.data)))] * count
        if isinstance(seeds, int):
            seeds = [seeds] * len(pools)
        if len(seeds) != len(pools):
            raise MetricsError(f"got {len(pools)} conditions but {len(seeds)} seeds")
        idx = torch.tensor([pool[int(s) % len(pool)] for pool, s in zip(pools, seeds)], dtype=torch.long)
        images = self.data.images[idx]  # [N, C, H, W] uint8
        out = {"image": images.float().div(127.5).sub(1.0)}
        if self.data.normals is not None:
            out["normals"] = self.data.normals[idx]  # [N, 3, H, W]
        return out

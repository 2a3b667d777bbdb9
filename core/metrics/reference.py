"""Real data dressed as a pipeline: the reference row for conditional accuracy and diversity.

:class:`RealDataPipeline` answers ``generate(captions, seeds)`` with real images that satisfy each
caption: for a caption it pools every real item with the same stated condition (the attributes a
``shapes`` caption names, or the class of a class-captioned dataset) and the seed picks one. Its
scores are what a perfect generator would get from the evaluation networks, so they calibrate a
model's: conditional accuracy ≈ the classifier's accuracy, diversity = the spread of real images
that share a condition. It is a measuring stick, not a model: nothing is generated.
"""
from __future__ import annotations

from typing import Sequence

import torch

from core.metrics.data import MetricsError, RealData
from core.metrics.domain import caption_attributes


class RealDataPipeline:
    """A "generator" that returns real images matching each caption (see the module docstring).

    Args:
        data: the real items to draw from (e.g. ``load_real("shapes", "test", 64)``).
        dataset: the dataset's name (``shapes`` captions are parsed into stated attributes).
    """

    def __init__(self, data: RealData, dataset: str):
        self.data, self.dataset = data, dataset
        self.resolution = int(data.images.shape[-1])
        self._by_caption = {c: i for i, c in enumerate(data.captions) if c is not None}  # caption -> an item
        self._pools: dict[tuple, list[int]] = {}

    def _key(self, caption: str) -> tuple:
        """The condition a caption states: sorted (attribute, id) pairs, or ``(("label", y),)``."""
        if self.dataset == "shapes" and self.data.attributes:
            said = caption_attributes(caption)
            if said is None and caption in self._by_caption:  # unparsed: shape and colour (always stated)
                i = self._by_caption[caption]
                said = {a: int(self.data.attributes[a][i]) for a in ("shape", "color")}
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

    @torch.no_grad()
    def generate(self, captions: Sequence[str], seeds: Sequence[int] | int = 0, **unused) -> dict[str, torch.Tensor]:
        """``{"image": [N, C, H, W]}`` in [-1, 1]: for caption ``i``, item ``pool[seeds[i] % len(pool)]``."""
        if isinstance(seeds, int):
            seeds = [seeds] * len(captions)
        if len(seeds) != len(captions):
            raise MetricsError(f"got {len(captions)} captions but {len(seeds)} seeds")
        idx = []
        for c, s in zip(captions, seeds):
            pool = self.pool(c)
            idx.append(pool[int(s) % len(pool)])
        images = self.data.images[torch.tensor(idx, dtype=torch.long)]  # [N, C, H, W] uint8
        out = {"image": images.float().div(127.5).sub(1.0)}
        if self.data.normals is not None:
            out["normals"] = self.data.normals[torch.tensor(idx, dtype=torch.long)]  # [N, 3, H, W]
        return out

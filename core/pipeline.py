"""Inference only: load a checkpoint and generate images from a condition and a seed.

The benchmark and the demo import this module and never the trainer's loop::

    pipe = Pipeline.from_checkpoint("results/checkpoints/gan-int-cls")
    out = pipe.generate(["a red star with stripes"], seeds=[0, 1, 2])
    out["image"]  # [3, C, H, W] in [-1, 1]

Sample ``i`` is drawn from ``torch.Generator().manual_seed(seeds[i])``, so any image can be made
again from its seed, alone or in any batch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from core.checkpoint import find_checkpoint, load_weights, read_meta
from core.config import TrainConfig
from core.models import DataInfo, get_model_spec


def seeded_noise(shapes: dict[str, tuple[int, ...]], seeds: Sequence[int]) -> dict[str, torch.Tensor]:
    """``{name: [N, *shape]}`` standard-normal noise, sample ``i`` drawn from seed ``seeds[i]``
    (names in the order given by the model's ``noise_shapes``)."""
    out: dict[str, list] = {k: [] for k in shapes}
    for s in seeds:
        g = torch.Generator().manual_seed(int(s))
        for k, shape in shapes.items():
            out[k].append(torch.randn(*shape, generator=g))
    return {k: torch.stack(v) for k, v in out.items()}


class Pipeline:
    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, info: DataInfo, meta: dict,
                 device: str | torch.device = "cpu"):
        self.model = model.eval()
        self.cfg = cfg
        self.info = info
        self.meta = meta
        self.spec = get_model_spec(cfg.model_name)
        self.device = torch.device(device)
        self._encoder = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> "Pipeline":
        """Rebuild the model from a checkpoint (or run) directory alone: no flags needed.

        Raises:
            FileNotFoundError: ``path`` holds no checkpoint (the message says what was expected).
        """
        ckpt = find_checkpoint(Path(path))
        meta = read_meta(ckpt)
        cfg = TrainConfig.from_dict(meta["config"])
        info = DataInfo(**meta["data_info"])
        spec = get_model_spec(cfg.model_name)
        model = spec.build(cfg.model, info)
        load_weights(ckpt, model)
        return cls(model.to(device), cfg, info, meta, device)

    @property
    def resolution(self) -> int:
        return self.info.resolution

    def text_encoder(self):
        if self._encoder is None:
            from core.text import get_text_encoder

            self._encoder = get_text_encoder(self.cfg.text_encoder)
        return self._encoder

    def encode(self, captions: Sequence[str]) -> torch.Tensor:
        """Captions → embeddings ``[N, E]`` with the encoder the model was trained with."""
        return self.text_encoder().encode(list(captions)).float()

    def noise(self, seeds: Sequence[int]) -> dict[str, torch.Tensor]:
        """Per-sample noise: sample ``i`` from a generator seeded with ``seeds[i]``."""
        return seeded_noise(self.spec.noise_shapes(self.cfg.model), seeds)

    @torch.no_grad()
    def generate(self, captions: Sequence[str] | None = None, seeds: Sequence[int] | int = 0,
                 embeddings: torch.Tensor | None = None, noise: dict[str, torch.Tensor] | None = None,
                 batch_size: int = 256) -> dict[str, torch.Tensor]:
        """Generate one image per (condition, seed) pair.

        Args:
            captions: N captions (encoded with the model's text encoder), or pass ``embeddings``.
            seeds: N seeds, or one int (used for every condition).
            embeddings: ``[N, E]`` precomputed condition embeddings instead of captions.
            noise: explicit noise tensors (overrides ``seeds``), e.g. fixed noise for interpolation.
            batch_size: generation chunk size.
        Returns:
            ``{name: [N, C, H, W]}`` images in [-1, 1] on CPU: ``image`` is the final output;
            stacked models add their intermediate outputs (``stage1`` for StackGAN).
        """
        if embeddings is None:
            if captions is None:
                raise ValueError("pass captions or embeddings")
            embeddings = self.encode(captions)
        n = embeddings.shape[0]
        if isinstance(seeds, int):
            seeds = [seeds] * n
        if noise is None:
            if len(seeds) != n:
                raise ValueError(f"got {n} conditions but {len(seeds)} seeds")
            noise = self.noise(seeds)
        outs: dict[str, list] = {}
        for i in range(0, n, batch_size):
            e = embeddings[i:i + batch_size].to(self.device)
            nz = {k: v[i:i + batch_size].to(self.device) for k, v in noise.items()}
            for k, v in self.spec.generate(self.model, e, nz).items():
                outs.setdefault(k, []).append(v.float().cpu())
        return {k: torch.cat(v) for k, v in outs.items()}

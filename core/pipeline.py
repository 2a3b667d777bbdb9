"""Inference only: load a checkpoint and generate images from a condition and a seed.

The benchmark and the demo import this module and never the trainer's loop::

    pipe = Pipeline.from_checkpoint("results/checkpoints/stackgan")
    out = pipe.generate(["a red star with stripes"], seeds=[0, 1, 2])   # text-conditioned
    out = pipe.generate(labels=[3, 3, 7], seeds=[0, 1, 2])             # label-conditioned
    out = pipe.generate(structure=normals, seeds=0)                    # structure map [N, 3, H, W]
    out = pipe.generate(n=16, seeds=0)                                 # unconditional: seeds 0..15
    out["image"]  # [N, C, H, W] in [-1, 1]

Sample ``i`` draws its noise from ``torch.Generator().manual_seed(seeds[i])``, so any image can be
made again from its seed, alone or in any batch. ``seeds`` may also give each noise its own seeds
(``{"z1": [0] * 8, "z0": range(8)}``: fix one level's noise, vary the other's).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import torch

from core.checkpoint import find_checkpoint, load_weights, read_meta
from core.config import TrainConfig
from core.models import DataInfo, get_model_spec, seeded_noise
from core.resolve import load_config

__all__ = ["Pipeline", "seeded_noise"]



def condition_kinds_of(cfg: TrainConfig) -> tuple[str, ...]:
    """The condition kinds a model of ``cfg`` generates from (``("text",)``, ``("label",)``, ``()`` = none),
    without building it: what a caller outside ``core`` asks instead of the model registry."""
    return get_model_spec(cfg.model_name).condition_kinds(cfg.model)

class Pipeline:
    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, info: DataInfo, meta: dict,
                 device: str | torch.device = "cpu"):
        self.model = model.eval()
        self.cfg = cfg
        self.info = info
        self.meta = meta
        self.spec = get_model_spec(cfg.model_name)
        self.conditions: tuple[str, ...] = self.spec.condition_kinds(cfg.model)  # e.g. ("text",); () = none
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
        cfg = load_config(meta["config"])
        info = DataInfo(**meta["data_info"])
        spec = get_model_spec(cfg.model_name)
        if spec.generate is None:
            raise ValueError(f"{ckpt} is a {cfg.model_name} checkpoint, which makes no images (a pretrained "
                             "component of another model); a Pipeline needs a generator's checkpoint")
        model = spec.build(cfg.model, info)
        load_weights(ckpt, model, inference=True)
        return cls(model.to(device), cfg, info, meta, device)

    @property
    def noise_names(self) -> tuple[str, ...]:
        """The model's noises in its order (the highest level first, the image level last)."""
        return tuple(self.spec.noise_shapes(self.cfg.model))

    @property
    def resolution(self) -> int:
        return self.info.resolution

    def text_encoder(self):
        if self._encoder is None:
            from core.text import get_text_encoder

            if self.cfg.text_encoder == "char-cnn-rnn":
                raise ValueError("this model was trained on the StackGAN release's precomputed char-CNN-RNN "
                                 "embeddings, which cannot encode new captions; pass embeddings=[N, "
                                 f"{self.info.embed_dim}] (e.g. rows of the release's embeddings pickle)")
            self._encoder = get_text_encoder(self.cfg.text_encoder)
        return self._encoder

    def encode(self, captions: Sequence[str]) -> torch.Tensor:
        """Captions → embeddings ``[N, E]`` with the encoder the model was trained with."""
        return self.text_encoder().encode(list(captions)).float()

    def noise(self, seeds: Sequence[int] | Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
        """Per-sample noise: sample ``i`` from a generator seeded with ``seeds[i]`` (or per-noise seeds)."""
        return seeded_noise(self.spec.noise_shapes(self.cfg.model), seeds)

    def _condition(self, captions, labels, structure, embeddings) -> dict[str, torch.Tensor]:
        """The condition dict for the model's kinds; a clear error for anything missing or unexpected."""
        accepts = {"text": "captions= (or embeddings=)", "label": "labels=", "structure": "structure="}
        wanted = " and ".join(accepts[k] for k in self.conditions) or "no condition (pass n= and/or seeds=)"
        given = {"text": captions is not None or embeddings is not None, "label": labels is not None,
                 "structure": structure is not None}
        extra = [k for k, v in given.items() if v and k not in self.conditions]
        missing = [k for k in self.conditions if not given[k]]
        if extra or missing:
            kinds = ", ".join(self.conditions) or "nothing"
            raise ValueError(f"{self.cfg.model_name} is conditioned on {kinds}: pass {wanted}"
                             + (f"; it takes no {', '.join(extra)} condition" if extra else ""))
        cond = {}
        if "text" in self.conditions:
            if captions is not None and embeddings is not None:
                raise ValueError("pass captions= or embeddings=, not both")
            if isinstance(captions, str):
                raise ValueError("captions must be a list of strings, not one string")
            cond["text"] = (self.encode(captions) if embeddings is None
                            else torch.as_tensor(embeddings, dtype=torch.float32))  # [N, E]
        if "label" in self.conditions:
            lab = torch.as_tensor(labels, dtype=torch.long).flatten()  # [N]
            k = self.info.num_classes
            if k and len(lab) and (int(lab.min()) < 0 or int(lab.max()) >= k):
                raise ValueError(f"labels must lie in 0..{k - 1} (this model's classes), got {lab.tolist()}")
            cond["label"] = lab
        if "structure" in self.conditions:
            st = torch.as_tensor(structure, dtype=torch.float32)
            if st.dim() == 3:
                st = st[None]
            if st.dim() != 4 or (self.info.structure_channels and st.shape[1] != self.info.structure_channels):
                raise ValueError(f"structure must be [N, {self.info.structure_channels or 'S'}, H, W], "
                                 f"got {tuple(st.shape)}")
            cond["structure"] = st  # [N, S, H, W]
        return cond

    @torch.no_grad()
    def generate(self, captions: Sequence[str] | None = None, *, labels=None, structure=None,
                 embeddings: torch.Tensor | None = None, n: int | None = None,
                 seeds: Sequence[int] | Mapping[str, Sequence[int]] | int = 0,
                 noise: dict[str, torch.Tensor] | None = None, batch_size: int = 256) -> dict[str, torch.Tensor]:
        """Generate one image per (condition, seed) pair.

        Args:
            captions: N captions (text models; encoded with the model's text encoder), or ``embeddings``.
            labels: N class ids (label models).
            structure: ``[N, S, H, W]`` structure maps, e.g. surface normals (structure models).
            embeddings: ``[N, E]`` precomputed caption embeddings instead of captions.
            n: number of samples for an unconditional model (default: the number of seeds, else 1).
            seeds: N seeds; or one int: the same seed for every condition, or for an unconditional
                model the first of ``n`` consecutive seeds; or ``{noise name: N seeds}``.
            noise: explicit noise tensors ``{name: [N, ...]}`` (overrides ``seeds``).
            batch_size: generation chunk size.
        Returns:
            ``{name: [N, C, H, W]}`` images in [-1, 1] on CPU: ``image`` is the final output;
            stacked models add their intermediate outputs (``stage1`` for StackGAN).
        Raises:
            ValueError: a condition the model does not take or lacks (the message names the kinds it
                accepts), or counts that disagree.
        """
        cond = self._condition(captions, labels, structure, embeddings)
        if cond:
            counts = {k: v.shape[0] for k, v in cond.items()}
            if len(set(counts.values())) > 1:
                raise ValueError(f"conditions differ in number: {counts}")
            size = next(iter(counts.values()))
            if n is not None and n != size:
                raise ValueError(f"n={n} but {size} conditions were given")
        elif noise is not None:
            size = next(iter(noise.values())).shape[0] if noise else int(n or 1)
        elif isinstance(seeds, Mapping):
            size = len(next(iter(seeds.values()))) if seeds else int(n or 1)
        elif isinstance(seeds, int):
            size = int(n) if n is not None else 1
            seeds = list(range(seeds, seeds + size))
        else:
            size = len(seeds) if n is None else int(n)
        if isinstance(seeds, int):
            seeds = [seeds] * size
        if noise is None:
            lengths = ({len(v) for v in seeds.values()} if isinstance(seeds, Mapping) else {len(seeds)})
            if lengths != {size}:
                what = "conditions" if cond else "samples"
                raise ValueError(f"got {size} {what} but {sorted(lengths)[0]} seeds")
            noise = self.noise(seeds)
        outs: dict[str, list] = {}
        for i in range(0, size, batch_size):
            c = {k: v[i:i + batch_size].to(self.device) for k, v in cond.items()}
            nz = {k: v[i:i + batch_size].to(self.device) for k, v in noise.items()}
            for k, v in self.spec.generate(self.model, c, nz).items():
                outs.setdefault(k, []).append(v.float().cpu())
        return {k: torch.cat(v) for k, v in outs.items()}

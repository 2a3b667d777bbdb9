"""The small interface between models and the one training loop.

A model module provides a :class:`ModelSpec`: its config dataclass and presets, how to build its
networks (a plain ``nn.Module`` container with named sub-networks), its phases (which sub-networks
learn, for how many steps), one training step that composes losses from :mod:`core.losses`, and
how to generate images from a condition and explicit noise. The loop owns everything else:
data, optimizers, checkpoints, resume, logging, devices and DDP.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn


@dataclass(frozen=True)
class Phase:
    """One stage of training: ``optimize`` maps an optimizer role ("g", "d", ...) to the names of
    the sub-networks it updates. Every sub-network named in no role is frozen for the phase
    (``requires_grad=False`` and ``eval()`` mode, so BN statistics do not move either)."""

    name: str
    steps: int
    optimize: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def trainable(self) -> set[str]:
        return {m for mods in self.optimize.values() for m in mods}


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data to build its networks."""

    channels: int          # image channels
    resolution: int        # final image side
    embed_dim: int         # text embedding size (0 for unconditional / label-conditioned models)
    num_classes: int


class StepContext:
    """Passed to ``ModelSpec.train_step``: the sub-networks to call (DDP-wrapped where
    distributed), the optimizers of the phase, and :meth:`update`, which applies one loss."""

    def __init__(self, nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                 phase: Phase, step: int, cfg: Any, autocast: Callable[[], Any]):
        self.nets = nets
        self.optimizers = optimizers
        self.phase = phase
        self.step = step
        self.cfg = cfg
        self.autocast = autocast
        self.losses: dict[str, float] = {}

    def update(self, role: str, loss: torch.Tensor, **parts: torch.Tensor) -> None:
        """zero_grad → backward → (finite check) → step for optimizer ``role``; logs ``loss`` and
        any named ``parts``. A non-finite loss raises before any parameter changes."""
        from core.train import NonFiniteLossError

        value = float(loss.detach())
        if not torch.isfinite(torch.tensor(value)):
            raise NonFiniteLossError(f"loss_{role}", value, self.step)
        opt = self.optimizers[role]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.losses[f"loss_{role}"] = value
        for k, v in parts.items():
            self.losses[k] = float(v.detach())


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config_cls: type
    presets: dict[str, dict]                                   # preset -> overrides (key "model" for config_cls)
    build: Callable[[Any, DataInfo], nn.Module]               # (model cfg, data info) -> container module
    phases: Callable[[Any], list[Phase]]                      # model cfg -> phases
    train_step: Callable[[dict, StepContext], None]           # (batch, ctx) -> None (calls ctx.update)
    # (model, embedding [B,E], noise) -> {"image": final [B,C,R,R] in [-1,1], and intermediate
    # outputs under their own names, e.g. "stage1" for StackGAN}
    generate: Callable[[nn.Module, torch.Tensor, dict], dict]
    noise_shapes: Callable[[Any], dict[str, tuple[int, ...]]]  # model cfg -> {noise name: shape per sample}
    # model cfg -> the same config with the fields it does not use reset to their defaults (e.g.
    # Stage-II widths of a single-stage StackGAN), so two configs that train the same run compare equal
    canonical: Callable[[Any], Any] = lambda cfg: cfg

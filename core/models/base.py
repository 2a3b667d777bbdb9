"""The small interface between models and the one training loop.

A model module provides a :class:`ModelSpec`: its config dataclass and presets, what it is
conditioned on (:data:`CONDITION_KINDS`), how to build its networks (a plain ``nn.Module``
container with named sub-networks), its phases (which sub-networks learn, with which optimizer,
for how many steps), one training step that composes losses from :mod:`core.losses`, and how to
generate images from a condition dict and explicit noise. The loop owns everything else: data,
conditions, optimizers, checkpoints, resume, logging, devices and DDP.

This module imports nothing from the trainer, the pipeline or the metrics (models know nothing
about training, inference or evaluation networks).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from core.errors import ConfigError, NonFiniteLossError

# What a model can be conditioned on. In a batch and in ``generate``'s condition dict:
#   "text"      -> [B, E] float caption embeddings (raw; a model applies its own scale)
#   "label"     -> [B] int64 class ids
#   "structure" -> [B, S, H, W] float structure maps (surface normals, unit length, the data frame:
#                  x right, y down the rows, z towards the viewer)
#   "none"      -> nothing (declared as an empty tuple)
# With ``ModelSpec.mismatched`` the batch also holds ``wrong_<kind>``: the condition of another
# training item of a different class (the matching-aware discriminator's negative).
CONDITION_KINDS = ("text", "label", "structure")
OPTIMIZERS = ("adam", "rmsprop", "sgd")


@dataclass(frozen=True)
class Optim:
    """One optimizer of a phase: what it updates, with what rule, rate and schedule.

    The learning rate at phase step ``t`` (counted from 0 in each phase) is
    ``lr · decay ** (t // decay_every) · min(1, (t + 1) / warmup_steps) · f(t)`` (each factor only when
    set), where ``f(t)`` is the factor of the first ``(until, factor)`` pair of ``warmup_factors`` with
    ``t < until`` (1 past the last): a piecewise-constant warm-up, e.g. S²-GAN's reference Adam
    ``((10, 1/50), (30, 1/5))``.
    """

    modules: tuple[str, ...]          # sub-networks this optimizer updates
    lr: float                         # base learning rate
    kind: str = "adam"                # "adam" | "rmsprop" | "sgd"
    betas: tuple[float, float] = (0.5, 0.999)  # Adam's (β1, β2) (DCGAN, StackGAN code: β1 = 0.5)
    alpha: float = 0.99               # RMSprop's smoothing constant
    momentum: float = 0.0             # RMSprop / SGD momentum
    decay_every: int = 0              # multiply the rate by ``decay`` every N phase steps (0: never)
    decay: float = 0.5                # the factor (StackGAN: halved every 100 epochs)
    warmup_steps: int = 0             # linear warm-up over the first N phase steps (0: none)
    warmup_factors: tuple[tuple[int, float], ...] = ()  # piecewise-constant warm-up: (until step, factor), ascending
    lr_scale: tuple[tuple[str, float], ...] = ()  # (parameter-name prefix, factor): those learn at lr·factor

    def __post_init__(self):
        if self.kind not in OPTIMIZERS:
            raise ConfigError(f"optimizer kind must be one of {list(OPTIMIZERS)}, got {self.kind!r}")
        if not self.modules:
            raise ConfigError("an optimizer needs at least one sub-network to update")
        if self.lr <= 0 or self.decay_every < 0 or self.warmup_steps < 0:
            raise ConfigError(f"bad optimizer schedule: lr {self.lr}, decay_every {self.decay_every}, "
                              f"warmup_steps {self.warmup_steps}")
        until = [int(u) for u, _ in self.warmup_factors]
        if until != sorted(until) or any(u <= 0 or not f > 0 for u, f in self.warmup_factors):
            raise ConfigError(f"warmup_factors must be (until step > 0, factor > 0) pairs in ascending order, "
                              f"got {self.warmup_factors}")
        if any(not f > 0 for _, f in self.lr_scale):
            raise ConfigError(f"lr_scale factors must be > 0, got {self.lr_scale}")

    def lr_at(self, phase_step: int) -> float:
        """The learning rate at ``phase_step`` (0-based, relative to the phase's start)."""
        lr = self.lr
        if self.decay_every > 0:
            lr *= self.decay ** (phase_step // self.decay_every)
        if self.warmup_steps > 0:
            lr *= min(1.0, (phase_step + 1) / self.warmup_steps)
        for until, factor in self.warmup_factors:
            if phase_step < until:
                lr *= factor
                break
        return lr

    def param_groups(self, named: list[tuple[str, torch.nn.Parameter]]) -> list[dict]:
        """``named`` ("netD0.q.0.weight", parameter) pairs → parameter groups, each with its ``lr_scale``
        (the first matching prefix of :attr:`lr_scale`, else 1); empty groups are left out."""
        scales = [f for _, f in self.lr_scale] + [1.0]
        groups = [[] for _ in scales]
        for name, p in named:
            i = next((i for i, (prefix, _) in enumerate(self.lr_scale) if name.startswith(prefix)), len(scales) - 1)
            groups[i].append(p)
        if self.lr_scale and any(not g for g in groups[:-1]):
            unmatched = [prefix for (prefix, _), g in zip(self.lr_scale, groups) if not g]
            raise ConfigError(f"lr_scale prefixes {unmatched} match no parameter of {list(self.modules)}")
        return [{"params": g, "lr_scale": f} for g, f in zip(groups, scales) if g]

    def build(self, named: list[tuple[str, torch.nn.Parameter]]) -> torch.optim.Optimizer:
        """The optimizer over ``named`` (name, parameter) pairs; a group's rate is ``lr_at(t) · lr_scale``."""
        groups = self.param_groups(named)
        for g in groups:
            g["lr"] = self.lr * g["lr_scale"]
        # foreach: one fused kernel per step over all tensors instead of a loop (bit-identical on CPU,
        # measured faster on the small nets of the quick presets; bench.perf)
        if self.kind == "adam":
            return torch.optim.Adam(groups, lr=self.lr, betas=self.betas, foreach=True)
        if self.kind == "rmsprop":
            return torch.optim.RMSprop(groups, lr=self.lr, alpha=self.alpha, momentum=self.momentum, foreach=True)
        return torch.optim.SGD(groups, lr=self.lr, momentum=self.momentum, foreach=True)


def adam(cfg: Any, modules: Sequence[str], lr: float) -> Optim:
    """Adam over ``modules`` at ``lr`` with the run's β and step decay (``cfg``: the TrainConfig)."""
    return Optim(tuple(modules), lr=lr, betas=(cfg.beta1, cfg.beta2), decay_every=cfg.lr_decay_every)


@dataclass(frozen=True)
class Phase:
    """One stage of training: ``optimize`` maps an optimizer role ("g", "d", "q", ...) to its
    :class:`Optim`. Role names are labels for logs and checkpoints only; nothing depends on them.
    Every sub-network named in no optimizer is frozen for the phase (``requires_grad=False`` and
    ``eval()`` mode, so BN statistics do not move either)."""

    name: str
    steps: int
    optimize: Mapping[str, Optim] = field(default_factory=dict)

    def __post_init__(self):
        for role, opt in self.optimize.items():
            if not isinstance(opt, Optim):
                raise ConfigError(f"phase {self.name!r}: optimizer {role!r} must be an Optim (modules, lr, ...), "
                                  f"got {type(opt).__name__}")

    def trainable(self) -> set[str]:
        return {m for opt in self.optimize.values() for m in opt.modules}


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data to build its networks."""

    channels: int                  # image channels
    resolution: int                # final image side
    embed_dim: int = 0             # text embedding size (0 when the model is not text-conditioned)
    num_classes: int = 0           # number of class labels in the training data
    structure_channels: int = 0    # channels of the structure map (3 for normals; 0 when not used)


class StepContext:
    """Passed to ``ModelSpec.train_step``: the sub-networks to call (DDP-wrapped where
    distributed), the optimizers of the phase, and :meth:`update`, which applies one loss.

    ``step`` counts from 0 within the phase; ``global_step`` across the run.
    """

    def __init__(self, nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                 phase: Phase, step: int, cfg: Any, autocast: Callable[[], Any], global_step: int | None = None,
                 modules: dict[str, nn.Module] | None = None, check_finite: bool = True):
        self.nets = nets
        self.modules = modules if modules is not None else nets  # the same sub-networks, never DDP-wrapped
        self.optimizers = optimizers
        self.phase = phase
        self.step = step
        self.global_step = step if global_step is None else global_step
        self.cfg = cfg
        self.autocast = autocast
        self.check_finite = check_finite
        self.losses: dict[str, float | torch.Tensor] = {}  # floats, or detached tensors without check_finite

    @contextlib.contextmanager
    def fixed(self, name: str):
        """Use sub-network ``name`` as a fixed function inside the block (D during G's step): its weights
        get no gradient, so the backward skips their weight-gradient work (which the next zero_grad would
        discard anyway: bit-identical results) and, under DDP, their gradient sync. Yields the unwrapped
        module; BN layers keep their mode."""
        module = self.modules[name]
        flags = [p.requires_grad for p in module.parameters()]
        module.requires_grad_(False)
        try:
            yield module
        finally:
            for p, f in zip(module.parameters(), flags):
                p.requires_grad_(f)

    def update(self, role: str, loss: torch.Tensor, **parts: torch.Tensor) -> None:
        """zero_grad → backward → step for optimizer ``role``; logs ``loss`` and any named ``parts``.

        With ``check_finite`` (the default; the loop's choice on CPU) a non-finite loss raises before any
        parameter changes, which reads the loss back to the host. Without it (GPU runs: no host sync inside
        the step) the detached tensors are kept and the loop checks them when it logs or checkpoints."""
        if self.check_finite:
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLossError(f"loss_{role}", value, self.global_step)
        opt = self.optimizers[role]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.log(f"loss_{role}", loss)
        for k, v in parts.items():
            self.log(k, v)

    def log(self, name: str, value: torch.Tensor | float) -> None:
        """Log the scalar ``value`` (a 0-d tensor, or a number, stored as float32) under ``name`` for this
        step: the one way step code writes to :attr:`losses`. With ``check_finite`` it is read back to a
        float here; without, the detached tensor is kept (no host sync) and the loop reads it when it logs."""
        t = value.detach() if torch.is_tensor(value) else torch.tensor(float(value))
        self.losses[name] = float(t) if self.check_finite else t


def _as_kinds(value) -> tuple[str, ...]:
    kinds = (value,) if isinstance(value, str) else tuple(value)
    kinds = tuple(k for k in kinds if k != "none")
    bad = [k for k in kinds if k not in CONDITION_KINDS]
    if bad:
        raise ConfigError(f"unknown condition kind(s) {bad}; choose from {list(CONDITION_KINDS) + ['none']}")
    return kinds


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config_cls: type
    presets: dict[str, dict]                                   # preset -> overrides (key "model" for config_cls)
    build: Callable[[Any, DataInfo], nn.Module]               # (model cfg, data info) -> container module
    phases: Callable[[Any], list[Phase]]                      # TrainConfig -> phases (with their optimizers)
    train_step: Callable[[dict, StepContext], None]           # (batch, ctx) -> None (calls ctx.update)
    # (model, condition dict {kind: tensor} as described at CONDITION_KINDS, noise dict) ->
    # {"image": final [B,C,R,R] in [-1,1], and intermediate outputs under their own names, e.g. "stage1"};
    # None for a model that makes no images (a pretrained component such as SGAN's encoder)
    generate: Callable[[nn.Module, dict, dict], dict] | None
    noise_shapes: Callable[[Any], dict[str, tuple[int, ...]]]  # model cfg -> {noise name: shape per sample}
    # what the model is conditioned on: kinds from CONDITION_KINDS, "none" or () for nothing, or a
    # function of the model cfg returning them
    conditions: tuple[str, ...] | str | Callable[[Any], Any] = ()
    mismatched: bool = False   # the batch also carries wrong_<kind> (conditions of another class's items)
    # item entries train_step reads beyond "image", "label" and the conditions (e.g. ("mask",)); the
    # loop reads nothing else from the dataset
    batch_keys: tuple[str, ...] = ()
    # model cfg -> names of sub-networks the run must load, frozen, from another checkpoint
    # (TrainConfig.frozen), e.g. SGAN's pretrained encoder
    pretrained: Callable[[Any], tuple[str, ...]] = lambda cfg: ()
    # model cfg -> the same config with the fields it does not use reset to their defaults (e.g.
    # Stage-II widths of a single-stage StackGAN), so two configs that train the same run compare equal
    canonical: Callable[[Any], Any] = lambda cfg: cfg
    # preset -> dataset -> overrides laid over that preset when the run trains on that dataset (same form as
    # ``presets``), e.g. SGAN's quick rates for shapes, chosen on the shapes validation split
    dataset_presets: dict[str, dict[str, dict]] = field(default_factory=dict)

    def condition_kinds(self, model_cfg: Any) -> tuple[str, ...]:
        """The condition kinds of a model built from ``model_cfg`` (``()`` for an unconditional one)."""
        value = self.conditions(model_cfg) if callable(self.conditions) else self.conditions
        return _as_kinds(value)


# ----------------------------------------------------------------------------------------------
# noise

def uniform_from_normal(normal: torch.Tensor, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Standard-normal draws (e.g. :func:`seeded_noise`'s) → uniform draws on [low, high], through the normal
    CDF Φ: the same distribution a model trained on uniform noise saw, still addressable by seed."""
    return low + (high - low) * 0.5 * (1.0 + torch.erf(normal / math.sqrt(2.0)))


def seeded_noise(shapes: dict[str, tuple[int, ...]], seeds: Sequence[int] | Mapping[str, Sequence[int]]
                 ) -> dict[str, torch.Tensor]:
    """``{name: [N, *shape]}`` standard-normal noise, addressable by seed.

    Each seed opens one stream (``torch.Generator().manual_seed(seed)``) that yields the model's
    noises in the order of ``shapes``; noise ``name`` of a sample is that name's draw from its seed's
    stream. ``seeds`` is one seed per sample (every name from the same stream), or a dict giving
    each name its own per-sample seeds, so "fix z1, vary z0" is
    ``seeded_noise(shapes, {"z1": [0] * 8, "z0": range(8)})``; names missing from the dict use the
    seeds of the first name given. A per-name dict with the same seeds everywhere equals the list form.
    """
    names = list(shapes)
    if isinstance(seeds, Mapping):
        unknown = sorted(set(seeds) - set(names))
        if unknown:
            raise ValueError(f"seeds given for unknown noise {unknown}; this model's noises are {names}")
        if not seeds:
            raise ValueError("seeds is an empty dict; give at least one noise's seeds")
        per_name = {k: [int(s) for s in v] for k, v in seeds.items()}
        first = next(iter(per_name.values()))
        per_name = {k: per_name.get(k, first) for k in names}
        lengths = {len(v) for v in per_name.values()}
        if len(lengths) > 1:
            raise ValueError(f"per-noise seed lists differ in length: { {k: len(v) for k, v in per_name.items()} }")
    else:
        flat = [int(s) for s in seeds]
        per_name = {k: flat for k in names}
    streams: dict[int, dict[str, torch.Tensor]] = {}

    def draws(seed: int) -> dict[str, torch.Tensor]:
        if seed not in streams:
            g = torch.Generator().manual_seed(seed)
            streams[seed] = {k: torch.randn(*shape, generator=g) for k, shape in shapes.items()}
        return streams[seed]

    return {k: torch.stack([draws(s)[k] for s in per_name[k]]) if per_name[k] else torch.zeros(0, *shapes[k])
            for k in names}

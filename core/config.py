"""Run configuration: one frozen dataclass per run, saved with every checkpoint.

A :class:`TrainConfig` holds what every model shares (data, optimisation, seeds, logging,
devices); its ``model`` field holds the model's own frozen dataclass (e.g.
``GanIntClsConfig``). Named presets (``smoke``, ``quick``, ``paper``) are dicts of overrides
declared by each model; ``--set key=value`` overrides single fields.

This module knows no model (``tests/test_architecture.py`` keeps it off :mod:`core.models`): building a
config from a model's presets, reading one back by its model's name and comparing two on what they
train go through the model registry, in :mod:`core.resolve`.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field, fields
from typing import Any

from core.errors import ConfigError  # noqa: F401  (re-exported: the config's own error type)


PRESETS = ("smoke", "quick", "paper")


@dataclass(frozen=True)
class TrainConfig:
    model_name: str                      # registry name, e.g. "gan-int-cls"
    model: Any                           # the model's own frozen config dataclass
    preset: str = "quick"
    dataset: str = "shapes"
    dataset_root: str | None = None      # for real datasets in their published layout
    dataset_size: int | None = None      # train on N items (shapes renders N; others: a seeded subset of N)
    resolution: int = 64                 # final output resolution
    text_encoder: str = "minilm"         # core.text encoder ("minilm", "hash", "char-cnn-rnn": the release's
                                         # precomputed vectors; "auto": those when the dataset has them, else minilm)
    batch_size: int = 64
    # optimisation values a model's phases may use when they declare their optimizers (core.models.base.adam)
    lr_g: float = 2e-4                   # StackGAN §4 / GAN-CLS: Adam 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5                   # Adam β1 0.5 (DCGAN, StackGAN code)
    beta2: float = 0.999
    lr_decay_every: int = 0              # halve the learning rates every N steps of a phase (0: never)
    model_seed: int = 0                  # network init and training noise
    data_seed: int = 0                   # data order, caption and wrong-caption choice
    dataset_seed: int = 0                # which dataset instance (shapes: the rendered scenes; splits)
    eval_seed: int = 1234                # fixed noise for sample grids and evaluation
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_last: int = 3                   # periodic checkpoints kept (milestones are always kept)
    device: str = "auto"                 # "auto" | "cpu" | "cuda"
    # torch intra-op threads. Float results depend on it (1 vs 2 threads is not bit-identical), so the
    # loop sets it and stores the resolved count; 0: the process's current count (resolved at start)
    num_threads: int = 0
    bf16: bool = False                   # bf16 autocast (CUDA only)
    compile: bool = False                # torch.compile the sub-networks (GPU runs; ~40 s of compiling per phase)
    data_on_device: bool = False         # decode every training item once and keep the batch tensors on the
                                         # device (no per-step decoding or host-to-device copies)
    finite_check: str = "auto"           # "step": read each loss back and stop before a non-finite update;
                                         # "log": check at log/checkpoint steps (no host sync in the step);
                                         # "auto": step on CPU, log on GPU
    channels_last: bool = False          # channels_last memory format for images and conv weights
    num_workers: int = 0
    init_from: str | None = None         # checkpoint/run dir whose sub-networks initialise this run
    init_modules: tuple[str, ...] = ()   # which sub-networks to copy from init_from (e.g. ("ca1", "netG1"))
    # sub-networks loaded from other checkpoints and kept frozen in every phase, each
    # "name=checkpoint-or-run-dir[:its name there]" (e.g. SGAN's pretrained encoder). Their weights are
    # saved in this run's checkpoints too, so a checkpoint still rebuilds alone; this records the source.
    frozen: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict, model_config_cls: type) -> "TrainConfig":
        """The config of dict ``d`` (``to_dict``, JSON), its ``model`` section built as ``model_config_cls``:
        the model's config dataclass, which the caller looks up (``core.resolve.load_config`` asks the
        model registry; this module knows no model)."""
        d = dict(d)
        check_keys(cls, d, "config")
        model_d = dict(d.get("model") or {})
        check_keys(model_config_cls, model_d, "model config")
        d["model"] = model_config_cls(**{k: _coerce(model_config_cls, k, v) for k, v in model_d.items()})
        return cls(**{k: _coerce(cls, k, v) for k, v in d.items()})


def dict_differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """``"key: stored a, given b"`` for every (nested, dotted) key whose values differ."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += dict_differences(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: stored {va!r}, given {vb!r}")
    return out


def check_keys(cls, d: dict, what: str) -> None:
    """Reject keys that are not fields of dataclass ``cls`` with a clear error."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"unknown {what} key(s) {unknown} for {cls.__name__}; valid keys: {sorted(names)}")


def _coerce(cls, name: str, value):
    """Lists from JSON back to tuples where the field is a tuple."""
    hints = typing.get_type_hints(cls)
    t = hints.get(name)
    if isinstance(value, list) and t is not None and typing.get_origin(t) is tuple:
        return tuple(value)
    return value


def parse_value(text: str):
    """Parse a ``--set`` value: JSON (numbers, true/false, null, lists) or a bare string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Return ``cfg`` with dotted overrides applied (``"batch_size"``, ``"model.ngf"``). The model stays the
    same: its fields are rebuilt as ``type(cfg.model)``."""
    if "model_name" in overrides:
        raise ConfigError("the model is chosen by name (build_config's model_name, --model), not overridden")
    d = cfg.to_dict()
    for key, value in overrides.items():
        parts = key.split(".")
        target = d
        for p in parts[:-1]:
            if not isinstance(target.get(p), dict):
                raise ConfigError(f"unknown config key {key!r}: {p!r} is not a section")
            target = target[p]
        if parts[-1] not in target:
            raise ConfigError(f"unknown config key {key!r}; valid keys here: {sorted(target)}")
        target[parts[-1]] = value
    return TrainConfig.from_dict(d, type(cfg.model))


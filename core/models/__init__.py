"""Model registry. Each model module defines ``SPEC``, a :class:`core.models.base.ModelSpec`."""
from __future__ import annotations

import importlib

from core.errors import ConfigError

from .base import CONDITION_KINDS, DataInfo, ModelSpec, Optim, Phase, StepContext, adam, seeded_noise

_MODULES = {
    "gan-int-cls": "core.models.gan_int_cls",
    "stackgan": "core.models.stackgan",
    "sgan": "core.models.sgan",
    "sgan-encoder": "core.models.sgan:ENCODER_SPEC",  # module:attribute when a module defines two models
    "s2gan": "core.models.s2gan",
    "s2gan-fcn": "core.models.s2gan:FCN_SPEC",
    "stacked": "core.models.stacked",
}


_REGISTERED: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Register a model defined outside ``core.models`` (extensions, tests)."""
    _REGISTERED[spec.name] = spec
    return spec


def available_models(builtin_only: bool = False) -> list[str]:
    """Every registered model's name; with ``builtin_only``, only the suite's own (``core/models/``),
    not those registered at run time (extensions, tests), which other processes do not know."""
    return sorted(set(_MODULES) if builtin_only else set(_MODULES) | set(_REGISTERED))


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name``; a clear error lists the valid names."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in _MODULES:
        raise ConfigError(f"unknown model {name!r}; choose one of {available_models()}")
    module, _, attr = _MODULES[name].partition(":")
    return getattr(importlib.import_module(module), attr or "SPEC")


__all__ = ["CONDITION_KINDS", "DataInfo", "ModelSpec", "Optim", "Phase", "StepContext", "adam", "available_models",
           "get_model_spec", "register_model", "seeded_noise"]

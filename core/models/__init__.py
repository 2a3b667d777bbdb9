"""Model registry. Each model module of ``core/models/`` defines a :class:`core.models.base.ModelSpec` at module
level (``SPEC``; a module defining two models, e.g. SGAN's encoder, holds both): the registry finds them by
scanning the folder (:mod:`core.discovery`), so a new model is a new file and no list names it. Models of an
extension package (``$STACKED_GANS_EXTENSIONS``) are found the same way; :func:`register_model` registers
one at run time (tests)."""
from __future__ import annotations

from core.discovery import discover, submodules
from core.errors import ConfigError

from .base import CONDITION_KINDS, DataInfo, ModelSpec, Optim, Phase, StepContext, adam, seeded_noise

_REGISTERED: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Register a model defined outside ``core.models`` (extensions, tests)."""
    _REGISTERED[spec.name] = spec
    return spec


def _specs(modules) -> dict[str, ModelSpec]:
    """{name: spec} of every module-level :class:`ModelSpec` in ``modules``.

    Raises:
        ConfigError: two different specs share a name.
    """
    found: dict[str, ModelSpec] = {}
    for module in modules:
        for value in vars(module).values():
            if not isinstance(value, ModelSpec):
                continue
            if found.get(value.name, value) is not value:
                raise ConfigError(f"two models are named {value.name!r} (one in {module.__name__})")
            found[value.name] = value
    return found


def _builtin() -> dict[str, ModelSpec]:
    return _specs(submodules("core.models"))


def _all() -> dict[str, ModelSpec]:
    return {**_specs(discover("models", "core.models")), **_REGISTERED}


def available_models(builtin_only: bool = False) -> list[str]:
    """Every model's name; with ``builtin_only``, only the suite's own (``core/models/``), not those of
    extensions or registered at run time (tests), which other processes may not know."""
    return sorted(_builtin() if builtin_only else _all())


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` named ``name``; a clear error lists the valid names."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    found = _all()
    if name not in found:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(found)}")
    return found[name]


__all__ = ["CONDITION_KINDS", "DataInfo", "ModelSpec", "Optim", "Phase", "StepContext", "adam", "available_models",
           "get_model_spec", "register_model", "seeded_noise"]

"""Run configs resolved through the model registry.

:mod:`core.config` holds the run's dataclass and knows no model; :mod:`core.models` holds the models and
knows no run config. This module sits above both: it builds a :class:`TrainConfig` from a model's
presets, reads a stored one back into its model's config dataclass, and compares two on what they
would train (``ModelSpec.canonical``).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from core.config import PRESETS, TrainConfig, apply_overrides, check_keys, dict_differences
from core.errors import ConfigError
from core.models import get_model_spec


def build_config(model_name: str, preset: str = "quick", overrides: dict[str, Any] | None = None,
                 **fields_) -> TrainConfig:
    """Resolve a config: model defaults → the model's preset → its dataset preset, if the model has one for the
    run's dataset (``ModelSpec.dataset_presets``) → keyword fields → dotted overrides."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
    spec = get_model_spec(model_name)
    preset_d = dict(spec.presets.get(preset, {}))
    model_d = dict(preset_d.pop("model", {}))
    dataset = (overrides or {}).get("dataset", fields_.get("dataset", preset_d.get("dataset", TrainConfig.dataset)))
    extra = dict(spec.dataset_presets.get(preset, {}).get(dataset, {}))
    model_d.update(extra.pop("model", {}))
    preset_d.update(extra)
    check_keys(spec.config_cls, model_d, f"{model_name} preset {preset!r} model")
    base = {"model_name": model_name, "preset": preset, "model": dataclasses.asdict(spec.config_cls(**model_d))}
    base.update(preset_d)
    base.update(fields_)
    cfg = TrainConfig.from_dict(base, spec.config_cls)
    return apply_overrides(cfg, overrides or {})


def load_config(d: dict) -> TrainConfig:
    """The :class:`TrainConfig` of dict ``d`` (``TrainConfig.to_dict``, a checkpoint's JSON), its ``model``
    section built as the config dataclass of the model registered as ``d["model_name"]``."""
    if "model_name" not in d:
        raise ConfigError(f"a run config needs a model_name; got keys {sorted(d)}")
    return TrainConfig.from_dict(d, get_model_spec(d["model_name"]).config_cls)


def canonical(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the model's unused fields at their defaults (``ModelSpec.canonical``), so two configs
    that would train the same run compare equal."""
    return dataclasses.replace(cfg, model=get_model_spec(cfg.model_name).canonical(cfg.model))


def config_differences(stored: TrainConfig, given: TrainConfig) -> list[str]:
    """What would make ``given`` train another run than ``stored``: ``"key: stored x, given y"`` for each
    canonical field that differs. A stored ``num_threads`` of 0 predates the field (unknown) and matches
    any count."""
    if not stored.num_threads:
        stored = dataclasses.replace(stored, num_threads=given.num_threads)
    return dict_differences(canonical(stored).to_dict(), canonical(given).to_dict())

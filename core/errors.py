"""The project's error types. Imported by every layer; imports nothing of the project.

Each message says what was expected and how to fix it (DESIGN.md: fail early and clearly).
"""
from __future__ import annotations


class ConfigError(ValueError):
    """An unknown key, a bad value, an unknown preset, or a run that cannot start as configured."""


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/inf; the run stops before the bad update, leaving the last checkpoint intact."""

    def __init__(self, name: str, value: float, step: int):
        self.name, self.value, self.step = name, value, step
        super().__init__(
            f"{name} became {value} at step {step}: training stopped before applying this update. "
            f"The last good checkpoint is intact; resume from it with --resume after lowering the learning "
            f"rates (--set lr_g=... --set lr_d=...) or checking the data.")

"""The project's error types. Imported by every layer; imports nothing of the project.

Each message says what was expected and how to fix it (DESIGN.md: fail early and clearly).
"""
from __future__ import annotations


class ConfigError(ValueError):
    """An unknown key, a bad value, an unknown preset, or a run that cannot start as configured."""


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/inf; the run stops before the bad update, leaving the last checkpoint intact."""

    def __init__(self, name: str, value: float, step: int, deferred: bool = False):
        self.name, self.value, self.step = name, value, step
        when = (f"at or before step {step} (checked at log and checkpoint steps, finite_check='log'): training "
                f"stopped before writing any checkpoint after it" if deferred
                else f"at step {step}: training stopped before applying this update")
        super().__init__(
            f"{name} became {value} {when}. "
            f"The last good checkpoint is intact; resume from it with --resume after lowering the learning "
            f"rates (--set lr_g=... --set lr_d=...) or checking the data.")

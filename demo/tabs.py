"""What a tab is: a title, a ``build(ctx)`` that adds its components and events inside the app's ``gr.Blocks``,
and its place among the tabs (``order``). A new model's tab is a module ``demo/<name>_tab.py`` defining
``TAB = Tab("SGAN", build, model=True, order=20)``: :func:`demo.app.tabs` finds it there (or in an extension's
``demo`` package, :mod:`core.discovery`); no list names it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass
class Context:
    """What every tab's ``build`` may use.

    Args:
        checkpoints: a tab's name for its models (``"stackgan"``, ``"sgan"``, ...) → the checkpoint, or folder of
            checkpoints, it serves (a missing name: the tab's default, the shipped ``results/checkpoints``).
        results: the ``results/`` folder the Results tab reads.
        max_visitors: requests of one model served at once (they share its batched forward passes).
    """

    checkpoints: dict[str, str | Path | None]
    results: Path
    max_visitors: int = 16
    models: dict[str, Any] = field(default_factory=dict)  # filled by the model tabs as they build


@dataclass(frozen=True)
class Tab:
    title: str
    build: Callable[[Context], None]  # called inside ``gr.Blocks``; opens its own ``gr.Tab(title)``
    model: bool = False  # a model a visitor can try (named in the app's header)
    order: int = 50  # where the tab comes (lower first; equal orders by title): models 10-49, Results 90, About 100

"""What a tab is: a title and a ``build(ctx)`` that adds its components and events inside the app's
``gr.Blocks``. :data:`demo.app.TABS` lists them in order; a new model (SGAN, S²-GAN, the stacked
study) is a module defining ``TAB = Tab("SGAN", build)`` and one entry in that list."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable



@dataclass
class Context:
    """What every tab's ``build`` may use.

    Args:
        checkpoints: model name → checkpoint directory to serve (a missing name: the tab's default).
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

"""A paper's ablation table, declared as data.

A :class:`Table` lists :class:`Row` s (each a chain of training :class:`Unit` s: config overrides
on a model's preset) and :class:`Claim` s (the paper's statements, each a comparison between rows
on one metric). The machinery in :mod:`bench.ablations` trains, scores, aggregates and reports
any table without knowing which paper it came from.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable

# direction of each score key written by core.metrics.evaluate (unknown keys: higher is better)
HIGHER_IS_BETTER = {"is_mean": True, "fid": False, "kid_mean": False, "inception_fid": False,
                    "inception_kid_mean": False, "inception_is_mean": True, "precision": True, "recall": True,
                    "f_score": True, "cond_acc": True, "diversity": True, "diversity_detail": True, "normal_error_deg": False,
                    "normal_error_deg_relief": False}


@dataclass(frozen=True)
class Unit:
    """One training run: a model, a preset, config overrides, and optionally a parent unit whose
    trained sub-networks initialise this one (``init_modules``), e.g. Stage-II from Stage-I, or are
    loaded into it frozen (``frozen_modules``), e.g. SGAN's pretrained encoder."""

    model: str
    overrides: dict
    parent: "Unit | None" = None
    init_modules: tuple[str, ...] = ()
    frozen_modules: tuple[str, ...] = ()

    def key(self, preset: str, seed: int) -> str:
        """A short content hash naming this unit's run directory: equal configs share one run."""
        blob = json.dumps({"model": self.model, "overrides": self.overrides, "preset": preset, "seed": seed,
                           "parent": self.parent.key(preset, seed) if self.parent else None,
                           "init": list(self.init_modules),
                           # only when set, so the keys of units without frozen networks are unchanged
                           **({"frozen": list(self.frozen_modules)} if self.frozen_modules else {})},
                          sort_keys=True)
        return f"{self.model}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Row:
    id: str                 # short identifier, used in CSVs and --only
    label: str              # the paper's wording of the row
    unit: Unit              # the last training run of the row (its parents are trained first)
    paper: dict = field(default_factory=dict)  # metric -> (mean, std) as printed in the paper
    params: dict = field(default_factory=dict)  # descriptive columns for the report (CA, text twice, resolution)
    # the table's metrics this row is scored on, when not all of them apply (e.g. no "normals" for a model
    # that neither takes nor makes surface normals); None: every metric of the table
    metrics: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Claim:
    """The paper's claim that row ``better`` beats every row of ``worse`` on ``metric``.

    Declared before running (PROTOCOL.md §1, §5), never changed after the data is seen:

    - ``metric``: the declared metric, chosen from the mechanism the paper gives for the effect;
      ``why`` says what that mechanism is and why this metric sees it.
    - ``worse``: with several rows, the claim must clear *every* one of them (intersection–union,
      PROTOCOL.md §12), each judged separately; not the best of them by observed mean.
    - ``guards``: non-inferiority conditions, ``(metric, margin)`` pairs: against every rival, the lower
      end of the 95% interval of ``better``'s effect on ``metric`` (signed so that positive is better)
      must lie above ``-margin``; e.g. CA → declared ``diversity``, guard ``("cond_acc", 0.02)``: more
      varied images must not cost more than 0.02 of conditional accuracy.
    - ``paired``: analyse blocked by training seed (a paired t on per-seed differences) instead of
      Welch's two-sample t; only where declared here, before running.
    """

    id: str
    text: str
    better: str
    worse: tuple[str, ...]
    metric: str = "is_mean"
    why: str = ""
    guards: tuple[tuple[str, float], ...] = ()
    paired: bool = False

    def __post_init__(self):
        if isinstance(self.worse, str) or not self.worse:
            raise ValueError(f"claim {self.id!r}: worse must be a non-empty tuple of row ids")
        if self.better in self.worse:
            raise ValueError(f"claim {self.id!r}: {self.better!r} cannot be its own rival")
        for g in self.guards:
            if len(g) != 2 or not isinstance(g[0], str) or not float(g[1]) >= 0:
                raise ValueError(f"claim {self.id!r}: a guard is a (metric, margin >= 0) pair, got {g!r}")

    @property
    def comparisons(self) -> int:
        """How many intervals must all clear for a *reproduced* verdict: one per rival on the declared
        metric, and one per rival per guard."""
        return len(self.worse) * (1 + len(self.guards))


@dataclass(frozen=True)
class Table:
    paper: str
    title: str
    dataset: str
    metrics: tuple[str, ...]                     # metrics asked of core.metrics.evaluate for every row
    display: tuple[str, ...]                     # score keys shown in the report's table and plots
    rows_for: Callable[[str], list[Row]]          # preset -> rows (resolutions depend on the preset)
    claims: tuple[Claim, ...]
    notes: Callable[[str, str], str] = lambda preset, dataset: ""  # (preset, dataset) -> notes for the report
    default_seeds: dict = field(default_factory=lambda: {"smoke": 2, "quick": 3, "paper": 3})
    eval_n: dict = field(default_factory=lambda: {"smoke": 64, "quick": 1000, "paper": 30000})
    paper_metric: str = "is_mean"  # the paper's own metric: reported beside each claim's declared one, never instead
    paper_scores: str = "the paper's Inception scores"  # what the paper column holds, in words, for the report

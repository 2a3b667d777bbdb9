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

from core.metrics import registry


def higher_is_better(metric: str) -> bool:
    """Whether more is better on ``metric``, as the benchmark reads it: a score key of
    :func:`core.metrics.evaluate` as :mod:`core.metrics.registry` declares it (a two-sided key such as
    ``diversity`` counts as higher; a claim judges it against the real data with ``toward_real``); any other
    key (a training log's ``log:<key>``) as higher."""
    return registry.higher_is_better(metric) if registry.is_score_key(metric) else True


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
class Gate:
    """A health gate (PROTOCOL.md rule 6): a model must pass it, measured on the ``val`` split at the pilot,
    before its row may test anything.

    - ``metric``: a score key of :func:`core.metrics.evaluate` measured on ``val`` (``fid``, ``diversity``,
      ``recall``, ...), or ``log:<key>`` for a training loss read from the run's log (e.g. ``log:loss_q0``),
      averaged over the last tenth of training.
    - ``op``: ``"<="`` (the value must be at most the threshold) or ``">="`` (at least).
    - ``factor`` and ``reference``: the threshold is ``factor`` × the reference value: ``"noise"`` (the
      metric on uniform noise images, same features, same split and n), ``"real"`` (the metric on real
      images, same pool size), ``"chance"`` (``chance``, a declared number, e.g. 1/12 for a Q head reading
      nothing of U[0, 1] noise), or ``""`` (absolute: the threshold is ``factor`` itself).
    - ``why``: one line justifying the threshold (in the table file, declared before looking).
    """

    metric: str
    op: str
    factor: float
    reference: str = ""
    chance: float | None = None
    why: str = ""

    def __post_init__(self):
        if self.op not in ("<=", ">="):
            raise ValueError(f"gate on {self.metric!r}: op must be '<=' or '>=', got {self.op!r}")
        if self.reference not in ("", "noise", "real", "chance"):
            raise ValueError(f"gate on {self.metric!r}: reference must be '', 'noise', 'real' or 'chance'")
        if self.reference == "chance" and self.chance is None:
            raise ValueError(f"gate on {self.metric!r}: a 'chance' gate needs its chance value")

    @property
    def name(self) -> str:
        """A short label, e.g. ``fid <= 0.5 x noise``."""
        if self.reference == "chance":
            return f"{self.metric} {self.op} {self.factor:g} x chance ({self.chance:.4g})"
        return f"{self.metric} {self.op} {self.factor:g}" + (f" x {self.reference}" if self.reference else "")

    def threshold(self, references: dict[str, float] | None = None) -> float:
        """The gate's threshold given measured reference values ``{"noise": x, "real": y}`` (NaN when the
        reference it needs was not measured)."""
        if self.reference == "":
            return float(self.factor)
        if self.reference == "chance":
            return float(self.factor) * float(self.chance)
        ref = (references or {}).get(self.reference)
        return float("nan") if ref is None else float(self.factor) * float(ref)

    def passes(self, value: float, references: dict[str, float] | None = None) -> bool:
        """Whether ``value`` passes (False when the value or the threshold is unknown)."""
        t = self.threshold(references)
        if not (value == value and t == t):
            return False
        return value <= t if self.op == "<=" else value >= t


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
    # health gates (PROTOCOL.md rule 6), declared in the table file before looking; measured by --health
    gates: tuple[Gate, ...] = ()


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
    - ``sesoi``: the smallest effect size of interest in the metric's units (PROTOCOL.md rule 4), with
      ``sesoi_why`` its one-line reason. Seeds are planned to detect it; the equivalence test (TOST
      against ±SESOI) can return *absent*.
    - ``toward_real``: a two-sided metric (PROTOCOL.md rule 12, e.g. diversity): each seed's value is
      judged as its distance to the real data's value at the same pool size (lower is better), not as
      "more is better".
    - ``holds_equal``: what the comparison holds equal between ``better`` and its rivals (budget, widths,
      initialisation, ...), in words; ``""`` when the table file does not say (PROTOCOL.md §2).
    """

    id: str
    text: str
    better: str
    worse: tuple[str, ...]
    metric: str = "is_mean"
    why: str = ""
    guards: tuple[tuple[str, float], ...] = ()
    paired: bool = False
    sesoi: float | None = None
    sesoi_why: str = ""
    toward_real: bool = False
    holds_equal: str = ""

    def __post_init__(self):
        if self.sesoi is not None and not float(self.sesoi) > 0:
            raise ValueError(f"claim {self.id!r}: sesoi must be > 0, got {self.sesoi!r}")
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
    # metric -> its floor or chance value (e.g. texture accuracy 0.25 with four textures; recall 0): a claim
    # whose metric sits within one SESOI of it in every row it compares is not testable (PROTOCOL.md rule 6)
    floors: dict = field(default_factory=dict)
    # Words for readers (the demo's Results tab and the results index read them from the table's table.json,
    # :mod:`bench.describe`), declared here with the table, never in a list of the demo:
    settings: str = ""  # what the rows' descriptive columns (Row.params) say; "": the columns' names
    paper_data: str = ""  # where the paper measured its own scores, in a word or two ("CUB birds"); "": not said
    order: int = 50  # where the table comes among the others (lower first; then by name)

    def sesoi(self, metric: str) -> float | None:
        """The smallest SESOI any claim declares on ``metric`` (None when no claim is judged on it): what
        ``--replicate`` takes as agreement with a committed row."""
        found = [float(c.sesoi) for c in self.claims if c.metric == metric and c.sesoi is not None]
        return min(found) if found else None

"""How good a tab's models are, in words a visitor reads, built from the committed files and never from prose:
each table's health gates on the validation split, ``results/<table>/health.csv`` (columns ``row, gate, metric,
value, threshold, passed, seeds, split, note``, written by ``python -m bench.ablations --paper P --health``), and
the gates each row declares in the table's ``table.json``.

A model tab names the table rows its shipped models are (``sgan`` and ``sgan-no-ent``; ``stack-joint``; ...),
finds the table by its paper and dataset (:func:`table_folder`: no list of folders), and writes one line with
:func:`row_words` per model: how many gates it passes, and every gate it fails with the measured value and the
threshold. A gate the table declares but the file does not hold, or holds without a value, is *not measured*,
never a pass. Nothing here knows one model family from another.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from core.metrics.registry import label

HEALTH = "health.csv"
TABLE_JSON = "table.json"
QUESTION = "**How good are these models?**"  # how every model tab's quality line begins

# What a failed gate on a metric means for the images, in plain words (a metric not here: its name and numbers)
FAILED_MEANS = {
    "fid": "the images are far from the real ones",
    "diversity": "the images barely differ from one another",
    "recall": "they cover little of the real images' variety",
    "structure_spread": "the Structure-GAN draws nearly the same map for every seed",
    "structure_fd": "the drawn geometry is far from real normal maps",
}


@dataclass(frozen=True)
class Gate:
    """One health gate of one table row, as ``health.csv`` holds it."""

    name: str  # the gate as the table declares it, e.g. "fid <= 0.5 x noise"
    metric: str  # the score it reads, e.g. "fid"
    value: float | None  # measured on the split (mean over ``seeds``); None: not measured
    threshold: float | None  # the bound the value is held to
    passed: bool | None  # None: not measured
    seeds: int = 0  # training seeds it was measured on


@dataclass(frozen=True)
class RowHealth:
    """Every gate of one table row: those ``health.csv`` measured, and those the table declares but it lacks."""

    row: str
    source: str  # where it was read, e.g. "results/s2gan/health.csv"
    gates: tuple[Gate, ...]

    @property
    def passed(self) -> list[Gate]:
        return [g for g in self.gates if g.passed is True]

    @property
    def failed(self) -> list[Gate]:
        return [g for g in self.gates if g.passed is False]

    @property
    def unmeasured(self) -> list[Gate]:
        return [g for g in self.gates if g.passed is None]

    @property
    def seeds(self) -> int:
        return max((g.seeds for g in self.gates if g.passed is not None), default=0)


def _table(folder: Path) -> dict:
    try:
        data = json.loads((folder / TABLE_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def table_folder(results: str | Path, paper: str, dataset: str | None = None) -> Path | None:
    """The folder of ``results`` whose ``table.json`` is ``paper``'s table (on ``dataset``, when given), by name
    order; None when there is none."""
    results = Path(results)
    if not results.is_dir():
        return None
    for folder in sorted(p for p in results.iterdir() if p.is_dir()):
        desc = _table(folder)
        if desc.get("paper") == paper and (dataset is None or desc.get("dataset") == dataset):
            return folder
    return None


def _number(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _passed(x) -> bool | None:
    text = str(x).strip().lower()
    return True if text == "true" else False if text == "false" else None


def _gate(r) -> Gate:
    value, passed = _number(r.get("value")), _passed(r.get("passed"))
    seeds = _number(r.get("seeds"))
    return Gate(str(r.get("gate")), str(r.get("metric")), value, _number(r.get("threshold")), passed,
                int(seeds) if seeds else 0)


def row_health(folder: str | Path | None, row: str) -> RowHealth | None:
    """Row ``row`` of the table in ``folder``: its gates in ``health.csv`` (in the file's order), then those its
    ``table.json`` declares that the file lacks (not measured). None without a readable file naming the row."""
    if folder is None:
        return None
    folder = Path(folder)
    try:
        h = pd.read_csv(folder / HEALTH, dtype=str, keep_default_na=False)
        rows = h[h["row"] == row]
    except (OSError, KeyError, ValueError, pd.errors.ParserError):
        return None
    if rows.empty:
        return None
    gates = [_gate(r) for r in rows.to_dict("records")]
    declared = next((r.get("gates") or [] for r in _table(folder).get("rows", []) if r.get("id") == row), [])
    have = {g.name for g in gates}
    gates += [Gate(str(d), str(d).split()[0], None, None, None) for d in declared if d not in have]
    return RowHealth(row, f"results/{folder.name}/{HEALTH}", tuple(gates))


def metric_words(metric: str) -> str:
    """The metric's name in words (the registry's); a training-log value (``log:ent0``) or a key the registry does
    not know, as it is."""
    if metric.startswith("log:"):
        return f"training-log {metric[4:]}"
    try:
        return label(metric)
    except Exception:  # a key this install's registry does not know
        return metric


def _num(x: float | None) -> str:
    return "?" if x is None else f"{x:.3g}"


def gate_words(g: Gate) -> str:
    """``FID 49.4 (must be ≤ 26.2): the images are far from the real ones``."""
    bound = "≤" if "<=" in g.name else "≥" if ">=" in g.name else "against"
    text = f"{metric_words(g.metric)} {_num(g.value)} (must be {bound} {_num(g.threshold)})"
    return text + (f": {FAILED_MEANS[g.metric]}" if g.passed is False and g.metric in FAILED_MEANS else "")


def row_words(h: RowHealth | None) -> str:
    """One clause on a row's health: ``**fails 3 of 3** measured health gates (1 seed): ...; not measured: ...``,
    ``passes all 5 health gates (2 seeds)``; ``""`` for None."""
    if h is None:
        return ""
    measured = len(h.passed) + len(h.failed)
    missing = (f"; not measured: {', '.join(dict.fromkeys(metric_words(g.metric) for g in h.unmeasured))}"
               if h.unmeasured else "")
    if not measured:
        return f"has none of its {len(h.gates)} health gates measured yet"
    seeds = f"{h.seeds} seed{'s' if h.seeds != 1 else ''}"
    if not h.failed:
        which = "its one measured health gate" if measured == 1 else f"all {measured} measured health gates"
        return f"passes {which} ({seeds}){missing}"
    return (f"**fails {len(h.failed)} of {measured}** measured health gates ({seeds}): "
            + "; ".join(gate_words(g) for g in h.failed) + missing)


def healthy(h: RowHealth | None) -> bool:
    """Whether every gate of the row was measured and passed."""
    return h is not None and bool(h.gates) and all(g.passed is True for g in h.gates)


def quality_line(models: Sequence[tuple[str, Path | None, str]], command: str, lead: str = "") -> str:
    """A tab's line on how good its models are: :data:`QUESTION`, ``lead`` (words that hold no measurement), how
    many of the models pass every gate (when there are several), then per model ``(name, table folder, row)`` a
    sentence ``Name (row `r`) <row_words>.``, with the files it read. Without any health file naming the rows, it
    says so and gives ``command``, which measures them."""
    said, sources, good = [], [], 0
    for name, folder, row in models:
        h = row_health(folder, row)
        if h is None:
            continue
        said.append(f"{name[:1].upper() + name[1:]} (row `{row}`) {row_words(h)}.")
        sources.append(h.source)
        good += healthy(h)
    head = f"{QUESTION} {lead}".rstrip() + " "
    if not said:
        return head + f"No health check of their table rows is in `results/` yet (`{command}` measures them)."
    where = f"checked on the validation split ({', '.join(f'`{s}`' for s in dict.fromkeys(sources))})"
    rows = "passes every health gate of its table row" if good == 1 else "pass every health gate of their table rows"
    count = f"Of the {len(said)} models here, {good} {rows}, {where}. " if len(said) > 1 else f"{where.capitalize()}: "
    return head + count + " ".join(said)

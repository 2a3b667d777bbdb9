"""One probe harness: choose between candidate settings on the validation split, by a rule written first.

``python -m bench.sweep NAME --jobs 2`` trains every candidate of the sweep ``NAME`` (a :class:`Sweep` in
``bench/sweeps/<NAME>.py``: the definition is data, so a probe can be rerun from it) on each of its seeds,
measures on ``val`` every health gate its rows declare in their table (PROTOCOL.md rule 6) and the sweep's
own ``val`` metrics, and applies the sweep's decision rule. It writes, under ``--out`` (default
``results/sweeps/<NAME>``):

- ``sweep.csv``: one line per (candidate, row, seed, metric) measured;
- ``health.csv``: the gates of every candidate's rows (``bench.health``'s columns; ``row`` is
  ``<candidate>:<row>``);
- ``decision.md``: the definition, the rule as written, the candidates' means and the decision.

Choices are never made on the test split or on a table's own scores (PROTOCOL.md rule 3): the sweep scores
``val`` only. ``--list`` names the sweeps. Training is resumable: a finished cell is not retrained.
"""
from __future__ import annotations

import argparse
import importlib
import math
import pkgutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from bench.cells import eval_n, get_table, train_unit
from bench.health import HEALTH_SPLIT, measure_health, measure_run, write_health
from bench.spec import Row, Table, higher_is_better

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Candidate:
    """One setting: dotted config overrides applied on top of each row's own (``model.d_lr``: 1e-4...)."""

    name: str
    overrides: dict
    why: str = ""


@dataclass(frozen=True)
class Rule:
    """The decision, declared before running. A candidate is *eligible* when every gate of every row
    passes (mean over the seeds, as ``--health`` measures it), or always when ``gates`` is False. Among
    the eligible: the highest mean ``maximise``, or the lowest mean ``minimise`` (neither: the first in the
    declared order); candidates within ``tie`` of the best are broken by the lower mean ``tie_break``. Means
    are over seeds and over ``rows`` (all the sweep's rows when empty); a metric with no value ranks last.

    ``keep`` names an incumbent (the setting in use, or the paper's): when it is eligible, the best replaces it
    only if it beats ``keep``'s mean by more than ``margin`` and every guard holds. A guard is a
    ``(metric, margin)`` pair, as a claim's (:class:`bench.spec.Claim`): the best's mean on that metric may be
    worse than ``keep``'s by at most ``margin`` (worse as :func:`bench.spec.higher_is_better` says)."""

    gates: bool = True
    maximise: str | None = None
    tie: float = 0.0
    tie_break: str | None = None
    rows: tuple[str, ...] = ()
    minimise: str | None = None
    keep: str | None = None
    margin: float = 0.0
    guards: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        if self.maximise and self.minimise:
            raise ValueError(f"a rule maximises or minimises one metric, not both ({self.maximise}, {self.minimise})")
        if (self.keep or self.guards) and not self.metric:
            raise ValueError("a rule with keep or guards needs a metric to maximise or minimise")
        if self.guards and not self.keep:
            raise ValueError("a rule's guards compare with keep: name the incumbent")
        for g in self.guards:
            if len(g) != 2 or not isinstance(g[0], str) or not float(g[1]) >= 0:
                raise ValueError(f"a guard is a (metric, margin >= 0) pair, got {g!r}")

    @property
    def metric(self) -> str | None:
        """The metric that ranks the candidates (``maximise`` or ``minimise``)."""
        return self.maximise or self.minimise

    @property
    def reads(self) -> tuple[str, ...]:
        """Every ``val`` metric the rule reads (each must be one of the sweep's ``metrics``)."""
        return tuple(dict.fromkeys(m for m in (self.metric, self.tie_break, *(g[0] for g in self.guards)) if m))

    def words(self) -> str:
        parts = ["eligible: every gate of every row passes on val" if self.gates else "every candidate is eligible"]
        if self.metric:
            parts.append(f"then the {'highest' if self.maximise else 'lowest'} mean val {self.metric}")
            if self.tie_break:
                parts.append(f"within {self.tie:g} of the best, the lower mean val {self.tie_break}")
            if self.keep:
                keep = (f"{self.keep} stays (when eligible) unless that candidate's mean val {self.metric} is "
                        f"{'higher' if self.maximise else 'lower'} than {self.keep}'s by more than {self.margin:g}")
                keep += "".join(f" and its mean val {m} is not worse than {self.keep}'s by more than {g:g}"
                                for m, g in self.guards)
                parts.append(keep)
        else:
            parts.append("then the first eligible candidate in the declared order")
        return "; ".join(parts)


@dataclass(frozen=True)
class Sweep:
    """A probe as data: the table whose rows, gates and evaluation settings are used; the rows trained per
    candidate (a table row's id, or a :class:`~bench.spec.Row` of the sweep's own, e.g. one sub-network
    of a table's model trained alone, with its own gates); the candidates; the seeds; extra ``val``
    metrics (score keys or ``log:<key>``); the rule, and the question in words."""

    name: str
    paper: str
    dataset: str
    preset: str
    rows: tuple[str | Row, ...]
    candidates: tuple[Candidate, ...]
    seeds: tuple[int, ...]
    rule: Rule
    question: str
    metrics: tuple[str, ...] = ()
    issue: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        names = [c.name for c in self.candidates]
        if len(set(names)) != len(names) or any(":" in n for n in names):
            raise ValueError(f"sweep {self.name}: candidate names must be unique and hold no ':' ({names})")
        if self.rule.keep and self.rule.keep not in names:
            raise ValueError(f"sweep {self.name}: the rule keeps {self.rule.keep!r}, which is no candidate ({names})")
        unread = [m for m in self.rule.reads if m not in self.metrics]
        if unread:
            raise ValueError(f"sweep {self.name}: the rule reads {unread}; add them to metrics {self.metrics}")
        stray = [r for r in self.rule.rows if r not in self.row_ids]
        if stray:
            raise ValueError(f"sweep {self.name}: the rule averages rows {stray} the sweep does not train")


    @property
    def row_ids(self) -> tuple[str, ...]:
        return tuple(r.id if isinstance(r, Row) else r for r in self.rows)


def sweeps() -> dict[str, Sweep]:
    """Every sweep defined in ``bench/sweeps/`` (module-level ``SWEEP``, or ``SWEEPS``: a tuple of them, for
    one probe that decides several things), by name.

    Raises:
        ValueError: two sweeps share a name.
    """
    import bench.sweeps as pkg

    found = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"bench.sweeps.{info.name}")
        for sweep in (getattr(module, "SWEEP", None), *getattr(module, "SWEEPS", ())):
            if not isinstance(sweep, Sweep):
                continue
            if sweep.name in found:
                raise ValueError(f"two sweeps are named {sweep.name!r} (bench/sweeps/{info.name}.py and another)")
            found[sweep.name] = sweep
    return found


def find_row(table: Table, preset: str, row_id: str, sweep: str | None = None, candidate: str | None = None) -> Row:
    """One row by id: the table's at ``preset``, or with ``sweep``, that sweep's row under ``candidate``'s overrides
    (its id without the ``<candidate>:`` prefix). The scripts that train or score one row (budget curves, weight
    averages) take it from here.

    Raises:
        ValueError: no such candidate or row (the message names what there is).
    """
    rows = table.rows_for(preset)
    if sweep:
        s = sweeps()[sweep]
        rows = [replace(r, id=r.id.split(":", 1)[1]) for r in candidate_rows(s, table)
                if r.id.split(":", 1)[0] == candidate]
        if not rows:
            raise ValueError(f"sweep {sweep} has no candidate {candidate!r}: {[c.name for c in s.candidates]}")
    row = next((r for r in rows if r.id == row_id), None)
    if row is None:
        raise ValueError(f"no row {row_id!r}; rows: {[r.id for r in rows]}")
    return row


def candidate_rows(sweep: Sweep, table: Table) -> list[Row]:
    """The table's rows of the sweep, once per candidate, with the candidate's overrides on top of the row's
    and ids ``<candidate>:<row>`` (their units, so their run directories, differ by the overrides)."""
    rows = {r.id: r for r in table.rows_for(sweep.preset)}
    unknown = [r for r in sweep.rows if not isinstance(r, Row) and r not in rows]
    if unknown:
        raise ValueError(f"sweep {sweep.name}: table {sweep.paper} has no row {unknown}; it has {sorted(rows)}")
    out = []
    for cand in sweep.candidates:
        for given in sweep.rows:
            row = given if isinstance(given, Row) else rows[given]
            unit = replace(row.unit, overrides={**row.unit.overrides, **cand.overrides})
            out.append(replace(row, id=f"{cand.name}:{row.id}", unit=unit))
    return out


def _args(sweep: Sweep, threads: int = 1, progress: bool = False) -> SimpleNamespace:
    """The namespace bench.cells and bench.health read (what ``bench.ablations`` would pass)."""
    return SimpleNamespace(preset=sweep.preset, dataset=sweep.dataset, device="cpu", threads=threads,
                           no_progress=not progress, eval_n=None, inception=False)


def train_cells(sweep: Sweep, rows: list[Row], seeds, out: Path, args) -> pd.DataFrame:
    """Train every (row, seed) not finished yet → a runs frame (row, seed, metric, checkpoint) whose checkpoint
    paths are relative to ``out``."""
    recs = []
    for seed in seeds:
        for row in rows:
            print(f"[sweep {sweep.name}] {row.id} seed {seed}", file=sys.stderr, flush=True)
            run, seconds = train_unit(row.unit, args, seed, out / "runs")
            recs.append({"row": row.id, "seed": seed, "metric": "trained", "value": seconds,
                         "checkpoint": str((run / "checkpoints" / "final").relative_to(out))})
    return pd.DataFrame(recs)


def measure(sweep: Sweep, table: Table, rows: list[Row], runs: pd.DataFrame, out: Path, args
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(health lines of every candidate row on val, the sweep's extra val metrics per (row, seed))."""
    health = measure_health(table, rows, runs, args, out, split=HEALTH_SPLIT)
    recs = []
    if sweep.metrics:
        for row_id, seed, ckpt in zip(runs["row"], runs["seed"], runs["checkpoint"]):
            got, errors = measure_run((out / ckpt).parent.parent, list(sweep.metrics), table, args, HEALTH_SPLIT,
                                      eval_n(table, args))
            cand, rid = row_id.split(":", 1)
            recs += [{"candidate": cand, "row": rid, "seed": seed, "metric": k, "value": v} for k, v in got.items()]
            recs += [{"candidate": cand, "row": rid, "seed": seed, "metric": k, "value": math.nan, "note": e}
                     for k, e in errors.items()]
    return health, pd.DataFrame(recs, columns=["candidate", "row", "seed", "metric", "value", "note"])


def decide(sweep: Sweep, health: pd.DataFrame, values: pd.DataFrame) -> tuple[str | None, list[str]]:
    """(the chosen candidate or None, one line of reasons per candidate and for the choice)."""
    rule = sweep.rule
    lines, eligible = [], []
    for cand in sweep.candidates:
        mine = health[health["row"].str.startswith(cand.name + ":")]
        failed = mine[mine["passed"] != True]  # noqa: E712 - None (not measured) is not a pass
        ok = not rule.gates or failed.empty
        if ok:
            eligible.append(cand.name)
        why = "passes every gate" if failed.empty else "fails " + "; ".join(
            f"{r.row.split(':', 1)[1]} {r.gate} ({r.value:.4g} vs {r.threshold:.4g})" for r in failed.itertuples())
        lines.append(f"{cand.name}: {why}")
    if not eligible:
        return None, lines + ["no candidate is eligible: nothing is chosen"]

    def mean(cand: str, metric: str) -> float:
        v = values[(values["candidate"] == cand) & (values["metric"] == metric)]
        if rule.rows:
            v = v[v["row"].isin(rule.rows)]
        return float(v["value"].mean()) if len(v) else math.nan

    if not rule.metric:
        return eligible[0], lines + [f"chosen: {eligible[0]}, the first eligible candidate in the declared order"]
    sign = 1.0 if rule.maximise else -1.0  # scores: higher is better; no value ranks last
    scores = {c: -math.inf if math.isnan(m := mean(c, rule.metric)) else sign * m for c in eligible}
    best = max(scores.values())
    near = [c for c in eligible if scores[c] >= best - rule.tie]
    best_word = "highest" if rule.maximise else "lowest"
    if len(near) > 1 and rule.tie_break:
        chosen = min(near, key=lambda c: mean(c, rule.tie_break))
        why = f"{', '.join(near)} are within {rule.tie:g} of the best {rule.metric}; the lower {rule.tie_break}"
    else:
        chosen = max(near, key=lambda c: scores[c])
        why = f"the {best_word} mean val {rule.metric} ({sign * scores[chosen]:.4g})"
    keep = rule.keep
    if keep and keep in eligible and chosen != keep:
        gain = scores[chosen] - scores[keep]
        broken = []
        for metric, limit in rule.guards:
            better = 1.0 if higher_is_better(metric) else -1.0
            if not better * (mean(chosen, metric) - mean(keep, metric)) >= -limit:  # NaN breaks the guard
                broken.append(f"its {metric} is worse than {keep}'s by more than {limit:g}")
        if not gain > rule.margin or broken:
            held = (f"{chosen} ({why}) does not beat it by more than {rule.margin:g}" if not gain > rule.margin
                    else f"{chosen} ({why}) beats it, but " + "; ".join(broken))
            return keep, lines + [f"chosen: {keep}, kept: {held}"]
        why += f", better than {keep}'s by {gain:.4g} (> {rule.margin:g})"
    return chosen, lines + [f"chosen: {chosen}, {why}"]


def write_decision(sweep: Sweep, health: pd.DataFrame, values: pd.DataFrame, chosen, reasons, out: Path,
                   command: str) -> Path:
    """``decision.md``: what was asked, the rule, the measurements and the decision."""
    from core.checkpoint import git_sha

    gate_cols = health.assign(candidate=health["row"].str.split(":").str[0],
                              row_id=health["row"].str.split(":", n=1).str[1])
    lines = [f"# Sweep `{sweep.name}`" + (f" ({sweep.issue})" if sweep.issue else ""), "",
             sweep.question, "",
             f"Table `{sweep.paper}`, rows {', '.join(f'`{r}`' for r in sweep.row_ids)}; `{sweep.preset}` on "
             f"`{sweep.dataset}`; training seeds {', '.join(map(str, sweep.seeds))}; measured on `val`.", "",
             f"Command: `{command}` (commit `{git_sha()[:12]}`).", "", "## Candidates", ""]
    for c in sweep.candidates:
        over = ", ".join(f"`{k}={v}`" for k, v in c.overrides.items()) or "the preset as it is"
        lines.append(f"- **{c.name}**: {over}" + (f". {c.why}" if c.why else ""))
    lines += ["", "## Rule (declared before running)", "", sweep.rule.words() + ".", "", "## Gates on `val`", "",
              "| candidate | row | gate | value | threshold | passed | seeds |", "|---|---|---|---|---|---|---|"]
    for r in gate_cols.itertuples():
        lines.append(f"| {r.candidate} | {r.row_id} | {r.gate} | {r.value:.4g} | {r.threshold:.4g} | "
                     f"{'—' if r.passed is None else r.passed} | {r.seeds} |")
    if not values.empty:
        means = values.groupby(["candidate", "row", "metric"])["value"].agg(["mean", "count"]).reset_index()
        lines += ["", "## Other `val` metrics (mean over seeds)", "", "| candidate | row | metric | mean | seeds |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r.candidate} | {r.row} | {r.metric} | {r.mean:.4g} | {r.count} |" for r in means.itertuples()]
    lines += ["", "## Decision", ""] + [f"- {x}" for x in reasons]
    lines += ["", f"**Chosen: {chosen}**" if chosen else "**Nothing chosen.**"]
    lines += [f"", *sweep.notes]
    path = out / "decision.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("name", nargs="?", help="a sweep of bench/sweeps/ (--list names them)")
    p.add_argument("--list", action="store_true", help="name every sweep and exit")
    p.add_argument("--out", default=None, help="output folder (default results/sweeps/<name>)")
    p.add_argument("--seed", type=int, action="append", help="train only these seeds, measure nothing "
                                                              "(what --jobs runs in each process)")
    p.add_argument("--jobs", type=int, default=1, help="train the seeds in this many processes (one per core)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    p.add_argument("--progress", action="store_true", help="progress bars while training and scoring")
    args = p.parse_args(argv)
    known = sweeps()
    if args.list or not args.name:
        for name, s in sorted(known.items()):
            print(f"{name}: {s.question}")
        return 0 if args.list else 2
    if args.name not in known:
        print(f"error: no sweep {args.name!r}; defined: {', '.join(sorted(known)) or 'none'}", file=sys.stderr)
        return 2
    sweep = known[args.name]
    out = Path(args.out or ROOT / "results" / "sweeps" / sweep.name).resolve()
    out.mkdir(parents=True, exist_ok=True)
    table = get_table(sweep.paper)
    rows = candidate_rows(sweep, table)
    ns = _args(sweep, args.threads, args.progress)
    if args.seed:  # a lane: train these seeds only
        train_cells(sweep, rows, args.seed, out, ns)
        return 0
    if args.jobs > 1:
        from bench.launch import seed_lanes

        seed_lanes("bench.sweep", [sweep.name, "--out", str(out)], list(sweep.seeds), args.jobs, out / "logs",
                   args.threads)
    runs = train_cells(sweep, rows, sweep.seeds, out, ns)  # finished cells are found, not retrained
    health, values = measure(sweep, table, rows, runs, out, ns)
    write_health(health, out / "health.csv")
    values.to_csv(out / "sweep.csv", index=False)
    chosen, reasons = decide(sweep, health, values)
    command = "python -m bench.sweep " + " ".join(argv if argv is not None else sys.argv[1:])
    path = write_decision(sweep, health, values, chosen, reasons, out, command)
    print("\n".join(reasons))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # run as bench.sweep, so the sweeps' Sweep is this module's class
    from bench.sweep import main as _main

    raise SystemExit(_main())

"""A table's own description, ``results/<out>/table.json`` (issue #29): what the table *is*, as plain JSON, so
that readers of ``results/`` (the index, :mod:`bench.index`; the demo's Results tab) need no list of papers of
their own and never import the benchmark.

Written by :mod:`bench.ablations` beside every report it writes (``--report-only`` included), from the
:class:`~bench.spec.Table` declaration alone (no cell is read): the paper and title, the dataset the cells ran on
and what one of its classes is, the condition kinds of the rows' models, every row (label, descriptive params,
health gates, the paper's values), every claim (words, rows compared, declared metric and its direction from
:mod:`core.metrics.registry`, SESOI and its reason, guards, what the comparison holds equal) and the notes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.cells import get_table, unit_config
from bench.spec import Claim, Row, Table, higher_is_better
from core.data import dataset_traits
from core.metrics import registry
from core.pipeline import condition_kinds_of

FILE = "table.json"
VERSION = 1


def direction(metric: str) -> str:
    """``higher``, ``lower`` or ``two-sided`` as the registry declares ``metric``; a key it does not know (a
    training log's ``log:<key>``) as :func:`bench.spec.higher_is_better` reads it."""
    if registry.is_score_key(metric):
        return registry.direction(metric)
    return "higher" if higher_is_better(metric) else "lower"


def _row(row: Row, preset: str, dataset: str) -> dict:
    cfg = unit_config(row.unit, preset, 0, dataset, "cpu", Path("runs"), 1)
    return {"id": row.id, "label": row.label, "model": row.unit.model, "conditions": list(condition_kinds_of(cfg)),
            "resolution": cfg.resolution, "params": dict(row.params), "gates": [g.name for g in row.gates],
            "metrics": list(row.metrics) if row.metrics is not None else None,
            "paper": {m: list(v) if isinstance(v, (tuple, list)) else v for m, v in row.paper.items()}}


def _claim(claim: Claim) -> dict:
    return {"id": claim.id, "text": claim.text, "better": claim.better, "worse": list(claim.worse),
            "metric": claim.metric, "direction": direction(claim.metric), "toward_real": claim.toward_real,
            "sesoi": claim.sesoi, "sesoi_why": claim.sesoi_why, "why": claim.why,
            "guards": [{"metric": m, "margin": margin, "direction": direction(m)} for m, margin in claim.guards],
            "paired": claim.paired, "holds_equal": claim.holds_equal}


def _settings(rows: list[dict]) -> str:
    """What the rows' descriptive columns say when the table file does not put it in words: their names."""
    names = list(dict.fromkeys(k for r in rows for k in r["params"]))
    return "the settings that tell the rows apart" + (f" ({', '.join(names)})" if names else "")


def describe(table: Table, preset: str, dataset: str | None = None) -> dict:
    """The description of ``table`` run at ``preset`` on ``dataset`` (default: the table's): a dict of plain
    JSON values (see the module's docstring)."""
    dataset = dataset or table.dataset
    rows = [_row(r, preset, dataset) for r in table.rows_for(preset)]
    traits = dataset_traits(dataset)
    return {
        "version": VERSION, "paper": table.paper, "title": table.title, "order": table.order,
        "preset": preset, "dataset": dataset, "table_dataset": table.dataset, "class_noun": traits.class_noun,
        "conditions": sorted({k for r in rows for k in r["conditions"]}),
        "settings": table.settings or _settings(rows),
        "metrics": list(table.metrics), "display": list(table.display), "floors": dict(table.floors),
        "eval_n": table.eval_n.get(preset), "default_seeds": table.default_seeds.get(preset),
        "paper_metric": table.paper_metric, "paper_scores": table.paper_scores, "paper_data": table.paper_data,
        "rows": rows, "claims": [_claim(c) for c in table.claims], "notes": table.notes(preset, dataset),
    }


def write_description(table: Table, preset: str, dataset: str | None, out: Path) -> Path:
    """Write :func:`describe` to ``out/table.json``; returns its path."""
    path = Path(out) / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(describe(table, preset, dataset), indent=1, ensure_ascii=False, default=str) + "\n")
    return path


def main(argv=None) -> int:
    """``python -m bench.describe --paper sgan results/sgan-shapes``: write the ``table.json`` of a results folder
    whose cells exist (preset and dataset read from its ``runs.csv``) without rewriting its report; trains and
    judges nothing. ``bench.ablations`` writes it with every report anyway."""
    p = argparse.ArgumentParser(prog="python -m bench.describe", description=main.__doc__.split("\n")[0])
    p.add_argument("--paper", required=True, help="the table (bench/tables/<paper>.py)")
    p.add_argument("out", type=Path, help="the table's results folder, holding its runs.csv")
    args = p.parse_args(argv)
    import pandas as pd

    runs = pd.read_csv(args.out / "runs.csv")
    settings = runs[["preset", "dataset"]].drop_duplicates()
    if len(settings) != 1:
        raise SystemExit(f"error: {args.out / 'runs.csv'} holds cells of {len(settings)} (preset, dataset) pairs")
    preset, dataset = settings.iloc[0]
    print(f"wrote {write_description(get_table(args.paper), str(preset), str(dataset), args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

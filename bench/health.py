"""Health gates (PROTOCOL.md rule 6) and the real data's values of two-sided metrics (rule 12).

``python -m bench.ablations --paper P --health`` measures every :class:`~bench.spec.Gate` a table row
declares on the pilot's checkpoints, on the ``val`` split, against reference values measured on the same
split with the same evaluation settings (uniform noise images, real images), and writes ``health.csv``:
one line per (row, gate). ``--references`` writes ``references.csv``: the real data's value of every
metric a claim judges as a distance to it (``Claim.toward_real``), on the split the cells were scored on.

The report and the verdicts read these files through :func:`read_health`, :func:`unhealthy_rows` and
:func:`read_references`; nothing here trains anything.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
import torch

from bench.cells import EVAL_SEED, eval_n, scoring_resolutions, table_evaluate, unit_config
from bench.runs import read_runs
from bench.spec import Gate, Row, Table
from core.metrics import registry

HEALTH_COLUMNS = ["row", "gate", "metric", "value", "threshold", "passed", "seeds", "split", "note"]
REFERENCE_COLUMNS = ["metric", "split", "n", "value", "source"]
HEALTH_SPLIT = "val"   # gates are measured on the validation split, never on the test split (PROTOCOL.md rule 3)
LOG_PREFIX = "log:"    # a gate on a training loss: log:<key of core.train's log.jsonl>
LOG_TAIL = 0.1         # a logged loss is averaged over the last tenth of the steps that log it
NOT_MEASURED = "not measured"
SIDES = ("noise", "real")


# ---------------------------------------------------------------------------------------------- what to measure

def evaluate_metric(key: str) -> tuple[str, bool]:
    """(the :func:`core.metrics.evaluate` metric that writes score key ``key``, whether it needs the
    standard Inception features), e.g. ``recall`` -> ``("prc", False)``, ``inception_fid`` -> ``("fid", True)``,
    read from :mod:`core.metrics.registry`.

    Raises:
        ValueError: ``key`` is no score key of the evaluator.
    """
    if not registry.is_score_key(key):
        raise ValueError(f"{key!r} is not a score key of core.metrics.evaluate")
    return registry.owner(key), key.startswith(registry.INCEPTION)


def row_conditions(row: Row, args) -> tuple[str, ...]:
    """The condition kinds of the row's model (``("text",)``, ``("label",)``, ``()``...), from its config."""
    from core.pipeline import condition_kinds_of

    return condition_kinds_of(unit_config(row.unit, args.preset, 0, args.dataset, "cpu", Path("."), 1))


def row_dataset_seed(row: Row, args) -> int:
    """The dataset instance the row's cells are scored on (``TrainConfig.dataset_seed``, which no training
    seed changes): the real reference set a reference must use too."""
    return int(unit_config(row.unit, args.preset, 0, args.dataset, "cpu", Path("."), 1).dataset_seed)


def table_conditions(table: Table, args) -> tuple[str, ...]:
    """The condition kinds most of the table's rows share (the real reference answers those)."""
    kinds = Counter(row_conditions(r, args) for r in table.rows_for(args.preset))
    return kinds.most_common(1)[0][0]


# ---------------------------------------------------------------------------------------------- measuring

class NoiseImages:
    """A stand-in generator (:class:`core.metrics.evaluate.GeneratorLike`) that answers any condition with
    uniform noise images in [-1, 1], the range :func:`core.metrics.evaluate` reads generated images in
    (it quantises them with ``to_uint8`` as it does every model's): the noise reference of a health gate,
    the metric on images that hold nothing of the data. Image ``i`` comes from its own seed.

    Args:
        resolution: image side.
        channels: image channels (the dataset's).
        conditions: the condition kinds it claims to take (ignored when generating).
    """

    def __init__(self, resolution: int, channels: int, conditions: tuple[str, ...]):
        self.resolution, self.channels, self.conditions = int(resolution), int(channels), tuple(conditions)
        self.noise_names = ("noise",)  # one noise: diversity_detail varies it within each condition

    @torch.no_grad()
    def generate(self, captions: Sequence[str] | None = None, *, seeds, **conditions) -> dict[str, torch.Tensor]:
        """``{"image": [N, C, R, R]}`` uniform in [-1, 1], one image per seed (the last noise's, given a dict)."""
        if isinstance(seeds, Mapping):
            seeds = seeds[self.noise_names[-1]]
        side = self.resolution
        images = [torch.rand(self.channels, side, side, generator=torch.Generator().manual_seed(int(s)))
                  for s in seeds]  # each [C, R, R] in [0, 1)
        return {"image": torch.stack(images).mul(2).sub(1)}  # [N, C, R, R]


def score_keys(generator, table: Table, args, split: str, keys: Sequence[str], n: int, data_seed: int,
               dataset: str | None = None) -> dict[str, float]:
    """The score keys ``keys`` of ``generator`` (a pipeline or stand-in) on ``split``, with the table's
    evaluation settings (:func:`bench.cells.table_evaluate`, as every cell is scored): ``n`` images. Keys the
    evaluator did not write are left out."""
    asked = [evaluate_metric(k) for k in keys]
    metrics = list(dict.fromkeys(m for m, _ in asked))
    scores = table_evaluate(generator, table, args, metrics, data_seed, split=split, n=n, dataset=dataset,
                            inception=any(i for _, i in asked))
    return {k: float(scores[k]) for k in keys if k in scores}


def _joined(a, b):
    """Two :class:`core.metrics.RealData` sets as one pool (``a``'s items, then ``b``'s): every condition of
    ``b`` has at least its own item, even an attribute combination ``a`` never shows."""
    import dataclasses

    def cat(x, y):
        return None if x is None or y is None else torch.cat([x, y])

    return dataclasses.replace(
        a, images=torch.cat([a.images, b.images]), labels=torch.cat([a.labels, b.labels]),
        captions=list(a.captions) + list(b.captions),
        attributes={k: torch.cat([a.attributes[k], b.attributes[k]]) for k in a.attributes if k in b.attributes},
        scene=cat(a.scene, b.scene), normals=cat(a.normals, b.normals), mask=cat(a.mask, b.mask))


def references(table: Table, args, split: str, metrics: Mapping[str, Sequence[str]] | Sequence[str], n: int,
               conditions: tuple[str, ...] | None = None, data_seed: int | None = None,
               pool_split: str | None = "train") -> dict[str, dict[str, float]]:
    """Reference values for gates and two-sided metrics, on ``split`` with the table's evaluation settings.

    Args:
        table, args: the table and the command's arguments (``dataset``, ``preset``, ``eval_n``...).
        split: the real split (``val`` for gates, ``test`` for the verdicts' references).
        metrics: score keys per reference, ``{"noise": [...], "real": [...]}``; a plain sequence asks both
            of each key. Only what is asked is computed.
        n: images (and real items: the pool every condition's real images are drawn from).
        conditions: the condition kinds the real images answer (default: :func:`table_conditions`).
        data_seed: the dataset instance (default: the first row's ``dataset_seed``).
    Returns:
        ``{"noise": {key: value}, "real": {key: value}}``:

        - noise: the metric on uniform noise images in [-1, 1] (:class:`NoiseImages`), scored at the
          table's resolution against the same real set;
        - real: the metric on real images (:class:`core.metrics.RealDataPipeline`) answering the same
          conditions as the models (those of the split's ``n`` items): for ``diversity``, the real data's
          within-condition diversity at the models' pool size (``n // k`` conditions of ``k`` images, the
          evaluator's ``diversity_k``). The real images are drawn from every item of ``pool_split`` (default
          ``train``, the data the models learned from), joined with the split's own ``n`` items (so a rare
          attribute combination still has its own item): a generator samples its learned distribution, not a
          finite subset, and a small pool draws the same real item several times for one condition, which
          deflates the real value (0.10 from 300 items, 0.34 from 5,000; docs/metrics.md). ``None``: draw from
          the split's own ``n`` items. ``diversity_detail`` (only a model's last noise varies) has no
          counterpart in real data, which has no noise levels: its real value is the within-condition
          ``diversity`` of the real images, the most a condition's images vary.

        A key the evaluator did not write is left out.
    Raises:
        core.metrics.MetricsError, core.data.DatasetError: the split or a metric cannot be measured.
    """
    from core.metrics import RealDataPipeline, load_real

    asked = ({s: list(metrics.get(s, ())) for s in SIDES} if isinstance(metrics, Mapping)
             else {s: list(metrics) for s in SIDES})
    out: dict[str, dict[str, float]] = {s: {} for s in SIDES}
    if not any(asked.values()):
        return out
    kinds = table_conditions(table, args) if conditions is None else tuple(conditions)
    seed = row_dataset_seed(table.rows_for(args.preset)[0], args) if data_seed is None else int(data_seed)
    high, _ = scoring_resolutions(table, args)
    wants_normals = "structure" in kinds or any(
        evaluate_metric(k)[0] == "normals" or registry.metric(evaluate_metric(k)[0]).real_normals
        for side in SIDES for k in asked[side])
    real = load_real(args.dataset, split, high, n=n, seed=seed, normals=wants_normals,
                     progress=not getattr(args, "no_progress", True))
    if asked["noise"]:
        noise = NoiseImages(high, real.images.shape[1], kinds)
        out["noise"] = score_keys(noise, table, args, split, asked["noise"], n, seed)
    if asked["real"]:
        as_real = {k: "diversity" if k == "diversity_detail" else k for k in asked["real"]}
        pool = real if pool_split is None else _joined(load_real(args.dataset, pool_split, high, seed=seed,
                                                                 normals=wants_normals,
                                                                 progress=not getattr(args, "no_progress", True)),
                                                       real)
        got = score_keys(RealDataPipeline(pool, args.dataset, kinds), table, args, split,
                         list(dict.fromkeys(as_real.values())), n, seed)
        out["real"] = {k: got[v] for k, v in as_real.items() if v in got}
    return out


def read_log(log: Path) -> dict[int, dict]:
    """``{step: its line}`` of a :mod:`core.train` ``log.jsonl`` (event lines left out; a resumed run re-logs
    a step, and the later line counts).

    Raises:
        FileNotFoundError: no log.
    """
    if not Path(log).is_file():
        raise FileNotFoundError(f"no training log {log}")
    records: dict[int, dict] = {}
    for line in Path(log).read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if "event" not in rec:
                records[int(rec["step"])] = rec
    return records


def log_tail_mean(log: Path, key: str, tail: float = LOG_TAIL, until: int | None = None) -> float:
    """The mean of ``key`` over the last ``tail`` of the training steps that log it (up to step ``until``
    when given: the value a run stopped there would have had, for a checkpoint partway through).

    :mod:`core.train` appends one JSON line per logged step to ``<run>/log.jsonl``
    (``{"step", "phase", "time", "lr_<role>", <losses>}``, every ``log_every`` steps and at each phase's
    end) and a last ``{"event": "done"}`` line. The span runs from the last step logged before ``key``
    first appears (the start of its phase, for a loss only one phase logs; else 0) to the last line that
    logs it; the lines above ``last - tail * span`` are averaged.

    Raises:
        FileNotFoundError: no log; ValueError: no line logs ``key``.
    """
    records = {s: r for s, r in read_log(log).items() if until is None or s <= until}
    steps = sorted(records)
    logged = [s for s in steps if key in records[s]]
    if not logged:
        found = sorted({k for r in records.values() for k in r} - {"step", "phase", "time"})
        raise ValueError(f"no line of {log} logs {key!r} (it logs {found})")
    before = [s for s in steps if s < logged[0]]
    start = before[-1] if before else 0
    cut = logged[-1] - tail * (logged[-1] - start)
    values = [float(records[s][key]) for s in logged if s > cut or s == logged[-1]]
    return sum(values) / len(values)


def measure_run(run: Path, keys: Sequence[str], table: Table, args, split: str, n: int
                ) -> tuple[dict[str, float], dict[str, str]]:
    """Score keys and ``log:`` keys of one trained run → (values, key → why it has no value).

    Evaluator keys are scored together on the run's ``checkpoints/final`` (:func:`score_keys`, data seed
    the run's ``dataset_seed``, as :func:`bench.cells.score` does); when that fails, each metric alone, so
    one unmeasurable metric does not take the others with it."""
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    for key in [k for k in keys if k.startswith(LOG_PREFIX)]:
        if not (run / "log.jsonl").is_file():  # e.g. a shipped inference export: nothing to read, nothing failed
            errors[key] = f"not measured: no training log in {run} (an inference export keeps none)"
            continue
        try:
            values[key] = log_tail_mean(run / "log.jsonl", key[len(LOG_PREFIX):])
        except (OSError, ValueError) as e:
            errors[key] = f"{type(e).__name__}: {e}"
    scored = [k for k in keys if not k.startswith(LOG_PREFIX)]
    for key in list(scored):
        try:
            evaluate_metric(key)
        except ValueError as e:
            errors[key] = str(e)
            scored.remove(key)
    if not scored:
        return values, errors
    from core.pipeline import Pipeline

    final = run / "checkpoints" / "final"
    pipe = Pipeline.from_checkpoint(final if final.is_dir() else run)  # a run, or a shipped export itself
    seed = int(pipe.cfg.dataset_seed)
    try:
        values.update(score_keys(pipe, table, args, split, scored, n, seed, pipe.cfg.dataset))
    except Exception:  # noqa: BLE001 - retried metric by metric below, each error kept
        for metric in dict.fromkeys(map(evaluate_metric, scored)):
            group = [k for k in scored if evaluate_metric(k) == metric]
            try:
                values.update(score_keys(pipe, table, args, split, group, n, seed, pipe.cfg.dataset))
            except Exception as e:  # noqa: BLE001 - a metric that cannot be measured is a failing gate
                errors.update({k: f"{type(e).__name__}: {e}".replace("\n", " ")[:300] for k in group})
    for key in scored:
        if key not in values and key not in errors:
            errors[key] = f"the evaluator wrote no {key!r} for this model"
    return values, errors


# ---------------------------------------------------------------------------------------------- health

def pilot_cells(runs: pd.DataFrame) -> tuple[dict[tuple[str, int], str], set[tuple[str, int]]]:
    """(``(row, seed)`` → checkpoint path as runs.csv holds it, cells that failed to train) of a runs.csv frame."""
    cells: dict[tuple[str, int], str] = {}
    failed: set[tuple[str, int]] = set()
    for r, s, ck, m in zip(runs["row"], runs["seed"], runs["checkpoint"], runs["metric"]):
        if isinstance(ck, str) and ck.strip():
            cells.setdefault((str(r), int(s)), ck)
        elif m == "__failed__":
            failed.add((str(r), int(s)))
    return cells, failed - set(cells)


def _line(row: Row, gate: Gate, split: str, value=float("nan"), threshold=float("nan"), passed=None,
          seeds: int = 0, note: str = "") -> dict:
    return {"row": row.id, "gate": gate.name, "metric": gate.metric, "value": value, "threshold": threshold,
            "passed": passed, "seeds": seeds, "split": split, "note": note}


def _seed_list(seeds) -> str:
    return ", ".join(str(s) for s in sorted(seeds))


def measure_health(table: Table, rows: Sequence[Row], runs: pd.DataFrame, args, out: Path,
                   split: str = HEALTH_SPLIT) -> pd.DataFrame:
    """Measure every gate of every row that declares ``gates``, on the row's pilot cells in ``runs``.

    Args:
        table, rows: the table and its rows at the preset.
        runs: the pilot's runs.csv frame.
        args: the command's arguments (``dataset``, ``preset``, ``eval_n``, ``no_progress``).
        out: the folder of that runs.csv (its ``checkpoint`` paths are relative to it).
        split: the split gates are measured on (``val``).
    Returns:
        One line per (row, gate), :data:`HEALTH_COLUMNS`: ``value`` the mean over the seeds measured
        (``seeds`` of them), ``threshold`` from ``Gate.threshold`` with the noise and real references
        measured on ``split``, ``passed`` True/False, or None when nothing could be measured because no
        checkpoint is on disk (``note`` starts "not measured"). A gate whose metric or reference cannot
        be measured fails (``passed`` False), with the reason in ``note``.
    """
    out = Path(out)
    n = eval_n(table, args)
    cells, failed = pilot_cells(runs)
    lines: list[dict] = []
    # row -> (metric -> its value on each seed measured, metric -> why a seed has none, row notes)
    measured: dict[str, tuple[dict[str, list[float]], dict[str, list[str]], list[str]]] = {}
    for row in [r for r in rows if r.gates]:
        seeds = sorted(s for r, s in cells if r == row.id)
        found = [s for s in seeds if (out / cells[(row.id, s)]).is_dir()]
        notes = [f"checkpoint missing for seed {s} ({out / cells[(row.id, s)]})" for s in seeds if s not in found]
        notes += [f"seed {s} failed in the pilot" for r, s in sorted(failed) if r == row.id]
        if not found:
            why = (f"{NOT_MEASURED}: checkpoint missing (seed{'s' * (len(seeds) > 1)} {_seed_list(seeds)} under {out})"
                   if seeds else f"{NOT_MEASURED}: no pilot cell of this row in the runs file")
            lines += [_line(row, g, split, note="; ".join([why] + notes[len(seeds):])) for g in row.gates]
            continue
        keys = list(dict.fromkeys(g.metric for g in row.gates))
        values: dict[str, list[float]] = {}
        errors: dict[str, list[str]] = {}
        for s in found:
            ckpt = out / cells[(row.id, s)]
            cell_dir = ckpt.name == "final" and ckpt.parent.name == "checkpoints"  # <run>/checkpoints/final
            run = ckpt.parent.parent if cell_dir else ckpt  # else a shipped export, itself the checkpoint
            try:
                got, why = measure_run(run, keys, table, args, split, n)
            except Exception as e:  # noqa: BLE001 - e.g. an unreadable checkpoint: every gate of the seed fails
                got, why = {}, {k: f"{type(e).__name__}: {e}".replace("\n", " ")[:300] for k in keys}
            for key, v in got.items():
                values.setdefault(key, []).append(v)
            for key, text in why.items():
                errors.setdefault(key, []).append(f"seed {s}: {text}")
        measured[row.id] = (values, errors, notes)
    refs = gate_references(table, [r for r in rows if r.id in measured], args, split, n)
    for row in [r for r in rows if r.id in measured]:
        values, errors, notes = measured[row.id]
        ref, ref_notes = refs[row.id]
        for gate in row.gates:
            got = values.get(gate.metric, [])
            value = sum(got) / len(got) if got else float("nan")
            threshold = gate.threshold(ref.get(gate.metric))
            why = list(errors.get(gate.metric, [])) or ([] if got else [f"no {gate.metric} on any seed"])
            if gate.reference in SIDES and threshold != threshold:
                why.append(ref_notes.get((gate.reference, gate.metric), f"no {gate.reference} reference"))
            unknown = not got and why and all("not measured" in w for w in why)
            lines.append(_line(row, gate, split, value, threshold,
                               None if unknown else bool(gate.passes(value, ref.get(gate.metric))),
                               len(got), "; ".join(why + notes)))
    order = {r.id: i for i, r in enumerate(rows)}
    lines.sort(key=lambda x: order[x["row"]])  # the table's row order (stable: each row's gates as declared)
    frame = pd.DataFrame(lines, columns=HEALTH_COLUMNS)
    frame["passed"] = pd.Series([x["passed"] for x in lines], index=frame.index, dtype=object)  # True/False/None
    return frame


def gate_references(table: Table, rows: Sequence[Row], args, split: str, n: int
                     ) -> dict[str, tuple[dict[str, dict[str, float]], dict[tuple[str, str], str]]]:
    """row → ({metric: {"noise": x, "real": y}}, {(side, metric): why it is missing}) for the gates of
    ``rows`` that need a reference: one :func:`references` call per (condition kinds, dataset seed)."""
    groups: dict[tuple, dict[str, set[str]]] = {}
    key_of = {}
    for row in rows:
        key_of[row.id] = (row_conditions(row, args), row_dataset_seed(row, args))
        asked = groups.setdefault(key_of[row.id], {s: set() for s in SIDES})
        for g in row.gates:
            if g.reference in SIDES:
                asked[g.reference].add(g.metric)
    measured: dict[tuple, tuple[dict, dict]] = {}
    for (kinds, seed), asked in groups.items():
        missing: dict[tuple[str, str], str] = {}
        for side in SIDES:
            for key in [k for k in asked[side] if k.startswith(LOG_PREFIX)]:
                missing[(side, key)] = f"a training-log metric has no {side} reference"
                asked[side].discard(key)
        try:
            got = references(table, args, split, {s: sorted(asked[s]) for s in SIDES}, n, kinds, seed)
        except Exception as e:  # noqa: BLE001 - every gate needing it fails, with the reason
            got = {s: {} for s in SIDES}
            msg = f"{type(e).__name__}: {e}".replace("\n", " ")[:300]
            missing.update({(s, k): f"the {s} reference on {split} could not be measured: {msg}"
                            for s in SIDES for k in asked[s]})
        for s in SIDES:
            missing.update({(s, k): f"the evaluator wrote no {s} reference for {k!r}"
                            for k in asked[s] if k not in got[s] and (s, k) not in missing})
        by_metric: dict[str, dict[str, float]] = {}
        for s in SIDES:
            for k, v in got[s].items():
                by_metric.setdefault(k, {})[s] = v
        measured[(kinds, seed)] = (by_metric, missing)
    return {row_id: measured[key] for row_id, key in key_of.items()}


def write_health(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``health.csv`` (:data:`HEALTH_COLUMNS`); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.reindex(columns=HEALTH_COLUMNS).to_csv(path, index=False)
    return path


def _as_passed(x):
    """True / False, or None for a gate that was not measured (an empty cell)."""
    if isinstance(x, bool):
        return x
    text = str(x).strip().lower()
    return True if text == "true" else False if text == "false" else None


def read_health(path: Path) -> pd.DataFrame | None:
    """``health.csv`` as written by :func:`write_health` (``passed``: True, False or None), or None when the
    file does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    frame = pd.read_csv(path, keep_default_na=True).reindex(columns=HEALTH_COLUMNS)
    frame["passed"] = pd.Series([_as_passed(x) for x in frame["passed"]], index=frame.index, dtype=object)
    frame["note"] = frame["note"].fillna("").astype(str)
    return frame


def describe_failure(line: Mapping) -> str:
    """A failing gate in words, with its numbers: ``fid 54.1 > 27.4 (0.5 x noise)``."""
    metric, op, rule = str(line["gate"]).split(" ", 2)
    rule = rule.replace("chance (", "chance ").removesuffix(")") if "chance (" in rule else rule
    value, threshold = float(line["value"]), float(line["threshold"])
    note = str(line.get("note") or "")
    if value != value:
        return f"{metric} not measured ({rule}): {note}" if note else f"{metric} not measured ({rule})"
    if threshold != threshold:
        return f"{metric} {value:.3g}, no threshold ({rule}): {note}"
    bound = f"{metric} {value:.3g} {'>' if op == '<=' else '<'} {threshold:.3g}"
    return f"{bound} ({rule})" if " x " in rule else bound  # an absolute threshold is the rule itself


def unhealthy_rows(health: pd.DataFrame | None) -> dict[str, list[str]]:
    """Row → its failing gates, each described with its numbers (:func:`describe_failure`); rows whose
    every gate passed, or was not measured, are left out."""
    out: dict[str, list[str]] = {}
    if health is None:
        return out
    for line in health.to_dict("records"):
        if _as_passed(line["passed"]) is False:
            out.setdefault(str(line["row"]), []).append(describe_failure(line))
    return out


def unmeasured_rows(health: pd.DataFrame | None) -> dict[str, list[str]]:
    """Row → its gates that were not measured (``passed`` empty: no checkpoint on disk), with the reason: such a
    row is neither known healthy nor unhealthy, and :func:`unhealthy_rows` leaves it out."""
    out: dict[str, list[str]] = {}
    if health is None:
        return out
    for line in health.to_dict("records"):
        if _as_passed(line["passed"]) is None:
            out.setdefault(str(line["row"]), []).append(f"{line['gate']}: {line['note']}")
    return out


# ---------------------------------------------------------------------------------------------- references.csv

def real_reference_frame(table: Table, args, split: str = "test", metrics: Sequence[str] | None = None
                         ) -> pd.DataFrame:
    """The real data's value of every metric a claim declares ``toward_real`` on (or of ``metrics``), on
    ``split`` (the cells' scoring split) at the table's eval n and pool size: :data:`REFERENCE_COLUMNS`.
    The real images answer the condition kinds of the claim's rows (of most of the table's rows for
    ``metrics`` no claim names)."""
    import inspect

    from core.metrics import evaluate

    rows = {r.id: r for r in table.rows_for(args.preset)}
    wanted = list(dict.fromkeys(metrics if metrics is not None else
                                [c.metric for c in table.claims if c.toward_real]))
    kinds_of = {}
    for metric in wanted:
        claim = next((c for c in table.claims if c.metric == metric and c.better in rows), None)
        kinds_of[metric] = row_conditions(rows[claim.better], args) if claim else table_conditions(table, args)
    n = eval_n(table, args)
    k = inspect.signature(evaluate).parameters["diversity_k"].default  # the pool size every cell is scored at
    high, _ = scoring_resolutions(table, args)
    seed = row_dataset_seed(next(iter(rows.values())), args)
    lines = []
    for kinds in dict.fromkeys(kinds_of.values()):
        asked = [m for m in wanted if kinds_of[m] == kinds]
        got = references(table, args, split, {"real": asked}, n, kinds, seed)["real"]
        for metric in asked:
            how = (f"real {args.dataset}/train images (every item, with the {n} {split} items) through "
                   "RealDataPipeline answering the "
                   f"conditions of {n} {split} items ({', '.join(kinds) or 'no'} conditions) at {high} px, eval seed "
                   f"{EVAL_SEED}, data seed {seed}")
            if evaluate_metric(metric)[0] in ("diversity", "diversity_detail"):
                how += f"; diversity over {n // k} conditions x {k} images"
            if metric == "diversity_detail":
                how += " (real data has no noise levels: its within-condition diversity)"
            lines.append({"metric": metric, "split": split, "n": n, "value": got.get(metric, float("nan")),
                          "source": how})
    return pd.DataFrame(lines, columns=REFERENCE_COLUMNS)


def write_references(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``references.csv`` (:data:`REFERENCE_COLUMNS`); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.reindex(columns=REFERENCE_COLUMNS).to_csv(path, index=False)
    return path


def read_references(path: Path) -> pd.DataFrame | None:
    """``references.csv``, or None when the file does not exist."""
    path = Path(path)
    return pd.read_csv(path).reindex(columns=REFERENCE_COLUMNS) if path.is_file() else None


# ---------------------------------------------------------------------------------------------- command line

def health_source(args, out: Path) -> Path:
    """The runs.csv whose cells ``--health`` measures: ``--health-from``, else ``<out>/pilot/runs.csv`` when it
    exists, else ``<out>/runs.csv``."""
    if getattr(args, "health_from", None):
        return Path(args.health_from)
    pilot = out / "pilot" / "runs.csv"
    return pilot if pilot.is_file() else out / "runs.csv"


def _print_health(frame: pd.DataFrame) -> None:
    shown = frame.copy()
    for col in ("value", "threshold"):
        shown[col] = [f"{x:.4g}" if x == x else "–" for x in shown[col].astype(float)]
    shown["passed"] = [{True: "yes", False: "NO"}.get(_as_passed(x), "–") for x in shown["passed"]]
    print(shown[["row", "gate", "value", "threshold", "passed", "seeds", "note"]].to_string(index=False))


def health_command(table: Table, rows: Sequence[Row], args, out: Path) -> int:
    """``--health``: measure the gates on the pilot's cells, write ``<out>/health.csv``, print it."""
    src = health_source(args, out)
    runs = read_runs(src)
    if not src.is_file():
        print(f"error: {src} does not exist: pass --health-from PILOT_RUNS_CSV", file=sys.stderr)
        return 2
    known = runs.dropna(subset=["dataset", "preset"])
    other = known[(known["dataset"].astype(str) != args.dataset) | (known["preset"].astype(str) != args.preset)]
    if not other.empty:
        print(f"error: {src} holds cells of {sorted(set(zip(other['dataset'], other['preset'])))}, not "
              f"{args.dataset}/{args.preset}: pass the pilot's --dataset and --preset", file=sys.stderr)
        return 2
    chosen = [r for r in rows if not args.only or r.id in args.only]
    frame = measure_health(table, chosen, runs, args, src.parent)
    path = write_health(frame, out / "health.csv")
    if frame.empty:
        print(f"no row of the {table.paper} table declares health gates; wrote an empty {path}")
        return 0
    _print_health(frame)
    passed = [_as_passed(x) for x in frame["passed"]]
    print(f"\nwrote {path}: {passed.count(True)} gate(s) passed, {passed.count(False)} failed, "
          f"{passed.count(None)} not measured, of {len(frame)} (split {HEALTH_SPLIT}, from {src}).")
    for row, failing in unhealthy_rows(frame).items():
        print(f"  unhealthy: {row}: " + "; ".join(failing))
    if passed.count(None) == len(frame):
        print(f"no gate could be measured: none of the pilot's checkpoints is on this machine (they are not "
              f"committed; the runs.csv paths are relative to {src.parent}). Retrain the pilot, or copy its run "
              "directories there, and run --health again.", file=sys.stderr)
    return 0


def references_command(table: Table, args, out: Path) -> int:
    """``--references [METRIC ...]``: write ``<out>/references.csv`` (the real data's values, test split)."""
    frame = real_reference_frame(table, args, "test", args.references or None)
    if frame.empty:
        print(f"error: no claim of the {table.paper} table declares toward_real=True; name the metrics, e.g. "
              "--references diversity", file=sys.stderr)
        return 2
    path = write_references(frame, out / "references.csv")
    print(frame.to_string(index=False))
    print(f"wrote {path}")
    return 0


def command(table: Table, rows: Sequence[Row], args, out: Path) -> int:
    """``--references`` and/or ``--health`` of :mod:`bench.ablations` (neither trains anything)."""
    torch.set_num_threads(args.threads)
    code = 0
    if args.references is not None:
        code = references_command(table, args, out)
    if args.health and code == 0:
        code = health_command(table, rows, args, out)
    return code

"""Rerun a paper's ablation table: ``python -m bench.ablations --paper stackgan --preset quick``.

For every (row, seed) cell: train the row's units through :mod:`core.train` (a unit shared by
several rows, e.g. one Stage-I, is trained once), score the final model with :mod:`core.metrics`,
and append one line per metric to ``runs.csv``. Then aggregate (``ablation.csv``), plot, and
write ``report.md`` / ``report.html`` with a verdict per claim.

Resumable: a finished cell is never recomputed; an interrupted unit resumes from its last
checkpoint; a failing cell is recorded and the rest go on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from bench.cells import chain, code_runs_dir, fingerprint_of, get_table, run_cell, tables, unit_config
from bench.provenance import dirty_code
from bench.runs import append_runs, finished_cells, read_runs
from bench.spec import Row, Table
from bench.stats import CAP_HOURS, POCOCK_2

# ---------------------------------------------------------------------------------------------- CLI

def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.ablations", description=__doc__.split("\n\n")[0])
    p.add_argument("--paper", required=True, choices=sorted(tables()),
                   help="the table (bench/tables/<paper>.py, or an extension's: core/discovery.py)")
    p.add_argument("--preset", default="quick", choices=["smoke", "quick", "paper"])
    p.add_argument("--seeds", type=int, default=None, help="number of training seeds (default: the table's)")
    p.add_argument("--dataset", default=None,
                   help="dataset the rows train and are scored on (default: the table's, e.g. shapes for stackgan, "
                        "mnist5k for sgan)")
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true", help="continue into an existing --out (finished cells are kept)")
    p.add_argument("--only", action="append", default=[], metavar="ROW", help="run only these rows (repeatable)")
    p.add_argument("--seed", action="append", type=int, default=[], metavar="S",
                   help="run only these seeds (repeatable; e.g. one process per seed, sharing --out)")
    p.add_argument("--out", default=None, help="output directory (default results/<paper>)")
    p.add_argument("--inception", action="store_true", help="also score FID on standard Inception features")
    p.add_argument("--eval-n", type=int, default=None, help="generated images per cell (default: the table's)")
    p.add_argument("--list", action="store_true", help="print the rows and their resolved configs, then exit")
    p.add_argument("--report-only", action="store_true",
                   help="write ablation.csv, verdicts, plots and the report from runs.csv without running cells")
    p.add_argument("--no-report", action="store_true", help="run cells only (used by the --jobs workers)")
    p.add_argument("--first-seed", type=int, default=0,
                   help="training seeds are first-seed .. first-seed + seeds - 1 (a confirmatory run uses seeds "
                        "its pilot did not: see --plan-from)")
    p.add_argument("--plan-from", metavar="PILOT_RUNS_CSV", default=None,
                   help="plan the seeds per claim from a pilot's runs.csv and each claim's SESOI (80%% power, funded within --cap-hours), write "
                        "<out>/plan.csv and print the confirmatory command; trains nothing")
    p.add_argument("--cap-hours", type=float, default=CAP_HOURS,
                   help=f"compute cap of a plan for the whole table, in core-hours (default {CAP_HOURS:g}); claims are "
                        "funded per claim within it (PROTOCOL.md rule 4)")
    p.add_argument("--two-stage", type=int, default=0, metavar="N",
                   help="declare a two-stage design in the plan: stage 1 at N seeds per row, each stage testing at "
                        f"Pocock's α = {POCOCK_2} (PROTOCOL.md rule 5)")
    p.add_argument("--follow-plan", action="store_true",
                   help="train each row at the seeds <out>/plan.csv gives it (rows no testable claim needs get none), "
                        "from --first-seed")
    p.add_argument("--verify", nargs=2, metavar=("ROW", "SEED"), default=None,
                   help="retrain one cell from scratch (in a temporary directory) and check that it reproduces "
                        "the numbers runs.csv holds for it, bit for bit; exit 1 if not, naming the first recorded "
                        "input (lock, CPU, data, ...) or training step that differs")
    p.add_argument("--replicate", metavar="ROW", default=None,
                   help="train --seeds new seeds of ROW (after the largest runs.csv holds) under <out>/replicate/ and "
                        "test, per metric with a SESOI, that their mean agrees with the committed seeds' within "
                        "±SESOI (TOST); writes <out>/replicate-ROW.csv; exit 0 when every metric agrees")
    p.add_argument("--sesoi", action="append", default=[], metavar="METRIC=VALUE",
                   help="--replicate: the SESOI of METRIC where no claim declares one (repeatable)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per cell (default 1: one process per core is 1.3-1.6x faster than one "
                        "process using every core; the count is stored with each run, as it changes float results)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="seeds trained in parallel, one process each (default: one per core)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--health", action="store_true",
                   help="measure the health gates of the table's rows on the val split from the pilot's cells "
                        "(--health-from), write <out>/health.csv and print it; trains nothing (PROTOCOL.md rule 6)")
    p.add_argument("--health-from", metavar="RUNS_CSV", default=None,
                   help="the runs.csv whose cells --health measures (default: <out>/pilot/runs.csv if it exists, "
                        "else <out>/runs.csv)")
    p.add_argument("--references", nargs="*", metavar="METRIC", default=None,
                   help="write <out>/references.csv: the real test data's value of every metric a claim judges "
                        "toward_real (or of the METRICs named), at the table's eval n; trains nothing")
    from bench.launch import LOCAL, add_launcher_arguments

    add_launcher_arguments(p)  # --launcher slurm|debug (submitit), local (an alias) and the SLURM options
    args = p.parse_args(argv)
    if args.launcher == LOCAL:  # the one local launcher is the --jobs seed lanes (bench/launch.py says why)
        args.launcher = None
    args.dataset = args.dataset or get_table(args.paper).dataset
    return args


ROOT = Path(__file__).resolve().parent.parent  # the repository (workers run `python -m bench.ablations` there)


def run_jobs(args, argv: list[str], seeds: list[int], out: Path) -> None:
    """Train ``seeds`` in ``args.jobs`` parallel processes (``--seed S --jobs 1`` each, one thread per
    process unless ``--threads``); each logs to ``<out>/logs/seeds-<S...>.log``. Cells of one seed
    share their Stage-I parents, so seeds are the unit of parallel work. This is the one local launcher,
    :func:`bench.launch.seed_lanes` (``--launcher local`` is an alias of it)."""
    from bench.launch import seed_lanes

    base = drop_options(argv, {"--jobs", "--seed", "--threads", "--launcher", "--resume", "--report-only",
                               "--no-progress"}, ("--jobs", "--seed", "--threads", "--launcher"))
    seed_lanes("bench.ablations", [*base, "--out", str(out.resolve()), "--resume", "--no-progress", "--jobs", "1",
                                   "--no-report"], seeds, args.jobs, out / "logs", args.threads)


def drop_options(argv: list[str], names: set[str], with_value: tuple[str, ...]) -> list[str]:
    """``argv`` without the options ``names`` (and the next word of those in ``with_value`` when given as
    ``--name VALUE``)."""
    base, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in names:
            skip = "=" not in a and name in with_value
            continue
        base.append(a)
    return base


def other_settings(runs, args) -> str:
    """A message naming the (dataset, preset) pairs of ``runs`` (a runs.csv frame) that differ from the
    arguments', or "" when every cell was run as asked: cells of another dataset or preset must never be
    resumed, reported or planned from as if they were these (the code fingerprint does not tell them apart)."""
    if runs.empty:
        return ""
    known = runs.dropna(subset=["dataset", "preset"])  # a failed cell's row may not say
    pairs = {(str(d), str(p)) for d, p in zip(known["dataset"], known["preset"])} - {(args.dataset, args.preset)}
    return ", ".join(f"{d}/{p}" for d, p in sorted(pairs))


def plan(table: Table, args, out: Path) -> int:
    """``--plan-from PILOT``: seeds per claim from the pilot's spread and each claim's SESOI (PROTOCOL.md
    rule 4), funded within ``--cap-hours``, into ``plan.csv`` with the row and metric fingerprints."""
    from bench.cells import definitions
    from bench.stats import fresh_seeds, pilot_mismatch, plan_table, plan_total_hours, row_seeds, write_plan

    pilot = read_runs(Path(args.plan_from))
    if pilot.empty:
        print(f"error: {args.plan_from} holds no cells to plan from", file=sys.stderr)
        return 2
    if other := other_settings(pilot, args):
        print(f"error: {args.plan_from} holds cells of {other}, not {args.dataset}/{args.preset}: pass the "
              f"pilot's --dataset and --preset", file=sys.stderr)
        return 2
    defs = definitions(table, args.preset, args.dataset)
    if why := pilot_mismatch(pilot, defs):
        print(f"error: {args.plan_from} cannot plan this table: {why} (PROTOCOL.md rule 4)", file=sys.stderr)
        return 2
    health = {}
    health_csv = Path(args.plan_from).parent / "health.csv"
    for where in (health_csv, out / "health.csv"):
        if where.is_file():
            from bench.health import read_health, unhealthy_rows

            from bench.health import unmeasured_rows

            health = unhealthy_rows(read_health(where))
            if unknown := unmeasured_rows(read_health(where)):
                print(f"warning: {where} did not measure the gates of {', '.join(unknown)}: they are planned as if "
                      "healthy (PROTOCOL.md rule 6)", file=sys.stderr)
            break
    else:
        print("warning: no health.csv beside the pilot or in --out: no row is known to be healthy (PROTOCOL.md "
              "rule 6); measure them first with --health", file=sys.stderr)
    two_stage = (args.two_stage, POCOCK_2) if args.two_stage else None
    p = plan_table(table, pilot, cap_hours=args.cap_hours, health=health, definitions=defs, two_stage=two_stage)
    path = write_plan(p, out / "plan.csv")
    from bench.stats import cell_hours

    print(p[["claim", "metric", "sesoi", "sd", "seeds_needed", "seeds", "mde_at_seeds", "cost_core_h", "underpowered",
             "not_testable"]].to_string(index=False))
    first = fresh_seeds(pilot, 1)[0]
    per_row = row_seeds(p)
    print(f"\nwrote {path}: seeds per row {per_row}, ≈ {plan_total_hours(p, cell_hours(pilot)):.1f} core-hours "
          f"(cap {args.cap_hours:g}). Confirmatory run on seeds the pilot did not use, each row at its planned "
          f"seeds:\n  python -m bench.ablations --paper {args.paper}"
          + ("" if args.dataset == table.dataset else f" --dataset {args.dataset}")
          + f" --preset {args.preset} --follow-plan --first-seed {first} --out {out} --resume")
    return 0


def verify(table: Table, rows: list[Row], args, out: Path) -> int:
    """``--verify ROW SEED``: retrain the cell from scratch and compare every score with runs.csv's. Where they
    differ, say where it starts: the first recorded input that differs (torch, lock, CPU, threads, data,
    embeddings), else the first training step whose losses differ (:func:`bench.reproduce.diagnose`).
    Everything goes to stdout: the table's verify log (PROTOCOL.md rule 17)."""
    import tempfile

    from bench.reproduce import REPRODUCED, diagnose

    row_id, seed = args.verify[0], int(args.verify[1])
    row = next((r for r in rows if r.id == row_id), None)
    if row is None:
        print(f"error: unknown row {row_id!r}; rows are {[r.id for r in rows]}", file=sys.stderr)
        return 2
    runs = read_runs(out / "runs.csv")
    mine = runs[(runs["row"] == row_id) & (runs["seed"] == seed)].dropna(subset=["value"])
    if "code_fingerprint" in mine:
        same = mine[mine["code_fingerprint"].astype(str) == args.fingerprint]
    else:
        same = mine.iloc[0:0]
    if same.empty:
        found = sorted(set(mine["code_fingerprint"].dropna().astype(str))) if "code_fingerprint" in mine else []
        versions = sorted(set(mine["torch_version"].dropna())) if "torch_version" in mine else []
        other_torch = (f" Its inputs differ: torch version {', '.join(versions)} vs {torch.__version__} (the "
                       f"fingerprint includes it; install the locked environment: make setup)."
                       if versions and torch.__version__ not in versions else "")
        print(f"error: {out / 'runs.csv'} holds no cell ({row_id}, seed {seed}) of this code (fingerprint "
              f"{args.fingerprint}; the file has {found or 'none'}). Check out the commit that produced it "
              f"(its git_sha column) and verify there.{other_torch}", file=sys.stderr)
        return 2
    last = same.drop_duplicates("metric", keep="last")
    expected = {m: float(v) for m, v in zip(last["metric"], last["value"])}
    torch.set_num_threads(args.threads)  # scoring runs in this process: the cells' thread count
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        records = run_cell(row, seed, table, args, Path(tmp))
    wall = time.time() - t0
    retrained = records[0]
    if retrained["metric"] == "__failed__":
        print(f"error: the retrained cell failed: {retrained['error']}", file=sys.stderr)
        return 1
    got = {r["metric"]: float(r["value"]) for r in records}
    lines = [f"{m}: committed {v!r}, retrained {got.get(m, float('nan'))!r}"
             + ("" if got.get(m) == v else "   <-- differs") for m, v in expected.items()]
    print(f"verify {row_id} seed {seed} (code {args.fingerprint}, {args.threads} thread(s), {wall:.0f} s) on "
          f"{retrained['cpu_model']} ({retrained['cpu_capability']}), torch {retrained['torch_version']}, lock "
          f"{retrained['lock_hash'] or 'none'}:\n  " + "\n  ".join(lines))
    diagnosis = diagnose(last.iloc[-1].to_dict(), retrained, expected, got)
    print("\n".join(diagnosis))
    return 0 if diagnosis[-1] == REPRODUCED else 1


def replicate(table: Table, rows: list[Row], args, out: Path) -> int:
    """``--replicate ROW --seeds K``: train K new seeds of ROW (after the largest seed runs.csv holds for it)
    under ``<out>/replicate/``, then test, per metric with a SESOI, that their mean agrees with the committed
    seeds' within ±SESOI (:mod:`bench.replicate`); print the comparison and write ``<out>/replicate-ROW.csv``.
    Returns 0 when every metric agrees, 1 otherwise, 2 on a usage error."""
    from bench.replicate import (AGREES, cell_values, compare_row, format_lines, next_seeds, parse_sesoi,
                                 request_problem)

    row = next((r for r in rows if r.id == args.replicate), None)
    if row is None:
        print(f"error: unknown row {args.replicate!r}; rows are {[r.id for r in rows]}", file=sys.stderr)
        return 2
    runs = read_runs(out / "runs.csv")
    if other := other_settings(runs, args):
        print(f"error: {out / 'runs.csv'} holds cells of {other}, not {args.dataset}/{args.preset}", file=sys.stderr)
        return 2
    committed = cell_values(runs, row.id, args.fingerprint)
    if committed.empty:  # the committed table of another torch build: still what a reader compares against
        committed = cell_values(runs, row.id)
        if not committed.empty:
            print(f"note: the committed cells of {row.id} are of other code fingerprints "
                  f"{sorted(set(runs.loc[runs['row'] == row.id, 'code_fingerprint'].dropna()))}", file=sys.stderr)
    try:
        overrides = parse_sesoi(args.sesoi)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    metrics = list(dict.fromkeys(committed["metric"]))
    sesoi = {m: overrides.get(m, table.sesoi(m)) for m in metrics}
    k = args.seeds or table.default_seeds[args.preset]
    if problem := request_problem(row.id, metrics, overrides, sesoi, k):
        print(f"error: {problem} ({out / 'runs.csv'})", file=sys.stderr)
        return 2
    seeds = next_seeds(committed, k)
    scratch = out / "replicate"
    todo = [s for s in seeds if (row.id, s) not in finished_cells(read_runs(scratch / "runs.csv"), args.fingerprint)]
    if args.jobs > 1 and len(todo) > 1:  # one worker process per seed, as the table's own cells
        child = ["--paper", args.paper, "--preset", args.preset, "--dataset", args.dataset, "--only", row.id,
                 "--first-seed", str(seeds[0]), "--seeds", str(k), "--device", args.device,
                 *(["--inception"] if args.inception else []),
                 *(["--eval-n", str(args.eval_n)] if args.eval_n else [])]
        run_jobs(args, child, todo, scratch)
    else:
        torch.set_num_threads(args.threads)
        for s in todo:
            append_runs(scratch / "runs.csv", run_cell(row, s, table, args, scratch))
    new = cell_values(read_runs(scratch / "runs.csv"), row.id, args.fingerprint)
    result = compare_row(row.id, committed, new[new["seed"].isin(seeds)], sesoi)
    path = out / f"replicate-{row.id}.csv"
    result.to_csv(path, index=False)
    print(f"replicate {row.id}: new seeds {seeds} (code {args.fingerprint}, {args.threads} thread(s)) against the "
          f"committed seeds {sorted(set(committed['seed']))} of {out / 'runs.csv'}:\n  "
          + "\n  ".join(format_lines(result)))
    untested = [m for m in metrics if sesoi[m] is None]
    if untested:
        print(f"not tested (no SESOI declared): {', '.join(untested)}")
    agree = bool(len(result)) and bool((result["verdict"] == AGREES).all())
    print(f"wrote {path}\n" + ("every tested metric agrees within ±SESOI" if agree else
                               "NOT every tested metric agrees within ±SESOI"))
    return 0 if agree else 1


def list_rows(table: Table, rows: list[Row], args) -> None:
    for row in rows:
        print(f"== {row.id}: {row.label}  (paper: {row.paper or '-'})")
        for u in chain(row.unit):
            cfg = unit_config(u, args.preset, 0, args.dataset, args.device,
                              code_runs_dir(Path(args.out), args), args.threads)
            print(f"   unit {u.key(args.preset, 0)}: " + json.dumps(
                {k: v for k, v in cfg.to_dict().items() if k in ("model_name", "resolution", "model", "init_modules")},
                sort_keys=True))


class _Refused(Exception):
    """Arguments that cannot run as given: :func:`main` prints ``error: <message>`` and exits 2."""


def main(argv=None) -> int:
    args = parse_args(argv)
    table = get_table(args.paper)
    default_name = args.paper + ("" if args.dataset == table.dataset else f"-{args.dataset}")  # e.g. sgan-shapes
    args.out = args.out or f"results/{default_name}"
    out = Path(args.out)
    rows = table.rows_for(args.preset)
    try:
        code = _other_command(table, rows, args, out)
        if code is not None:
            return code
        cells, n_seeds = _cells_to_run(table, rows, args, out)
    except _Refused as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    given = list(argv if argv is not None else sys.argv[1:])
    _run_cells(table, args, out, cells, given)
    wall = time.time() - t0
    if args.no_report:
        return 0
    _write_report(table, rows, args, out, given, wall, n_seeds)
    _update_indexes(out, default_name)
    print(f"done: {out}/report.md")
    return 0


def _other_command(table: Table, rows: list[Row], args, out: Path) -> int | None:
    """Run a command that trains none of the table's cells (``--list``, ``--health``, ``--references``,
    ``--plan-from``, ``--verify``, ``--replicate``) and return its exit code; None when the cells are to run.

    Raises :class:`_Refused` for an unknown ``--only`` row, or for uncommitted code where cells would be kept.
    """
    known = {r.id for r in rows}
    bad = [r for r in args.only if r not in known]
    if bad:
        raise _Refused(f"unknown row(s) {bad}; rows are {sorted(known)}")
    if args.list:
        list_rows(table, rows, args)
        return 0
    if args.health or args.references is not None:
        from bench.health import command

        return command(table, rows, args, out)
    fingerprint_of(args)  # the code's fingerprint, kept on args before any command reads it
    if args.plan_from:
        return plan(table, args, out)
    if args.verify:
        return verify(table, rows, args, out)
    dirty = dirty_code()
    if dirty and args.preset != "smoke" and not args.report_only:
        raise _Refused("the code has uncommitted changes; a table's cells must come from one clean commit "
                       "(PROTOCOL.md §6). Commit or stash them first:\n  " + "\n  ".join(dirty))
    if args.replicate:
        return replicate(table, rows, args, out)
    return None


def _cells_to_run(table: Table, rows: list[Row], args, out: Path) -> tuple[list[tuple[Row, int]], int]:
    """The (row, seed) cells still to train (none under ``--report-only``) and the table's seeds per row.

    Raises :class:`_Refused` when ``out/runs.csv`` exists without ``--resume``, or holds cells of another
    dataset or preset, or when ``--follow-plan`` finds no protocol-v2 plan.
    """
    runs_csv = out / "runs.csv"
    if runs_csv.exists() and not (args.resume or args.report_only):
        raise _Refused(f"{runs_csv} exists; pass --resume to continue it or choose another --out")
    n_seeds = args.seeds or table.default_seeds[args.preset]
    selected = [r for r in rows if not args.only or r.id in args.only]
    existing = read_runs(runs_csv)
    if other := other_settings(existing, args):
        raise _Refused(f"{runs_csv} holds cells of {other}, not {args.dataset}/{args.preset}; pass the same "
                       f"--dataset and --preset, or choose another --out")
    done = finished_cells(existing, fingerprint_of(args))
    per_row = {r.id: n_seeds for r in selected}
    if args.follow_plan:
        per_row = _planned_seeds(out, selected)
        n_seeds = max(per_row.values(), default=0)
    seeds = [s for s in range(args.first_seed, args.first_seed + n_seeds) if not args.seed or s in args.seed]
    cells = [] if args.report_only else [(r, s) for s in seeds for r in selected
                                         if s < args.first_seed + per_row[r.id] and (r.id, s) not in done]
    return cells, n_seeds


def _planned_seeds(out: Path, selected: list[Row]) -> dict[str, int]:
    """{row: seeds} of the ``selected`` rows from the protocol-v2 plan in ``out/plan.csv`` (``--follow-plan``)."""
    from bench.stats import read_plan, row_seeds

    p = read_plan(out / "plan.csv")
    if p is None or "sesoi" not in p:
        raise _Refused(f"--follow-plan needs a protocol-v2 plan in {out / 'plan.csv'} (make it with --plan-from)")
    planned = row_seeds(p)
    return {r.id: planned.get(r.id, 0) for r in selected}


def _run_cells(table: Table, args, out: Path, cells: list[tuple[Row, int]], given: list[str]) -> None:
    """Train ``cells`` into ``out/runs.csv``: as submitit jobs (``--launcher slurm|debug``), in ``--jobs``
    processes (one per seed, running ``given``, the command's arguments), or here one after another."""
    runs_csv = out / "runs.csv"
    pending = sorted({s for _, s in cells})
    if args.launcher and cells:  # independent jobs through submitit (a SLURM cluster, or in-process for debug)
        from bench.launch import launch_cells

        launch_cells(args.paper, [(r.id, s) for r, s in cells], args, out)
        cells = []
    elif args.jobs > 1 and len(pending) > 1:
        run_jobs(args, given, pending, out)
        cells = []
    else:
        torch.set_num_threads(args.threads)
    bar = tqdm(cells, desc=f"{args.paper} cells", disable=args.no_progress, position=0)
    for row, seed in bar:
        if (row.id, seed) in finished_cells(read_runs(runs_csv), fingerprint_of(args)):
            continue  # finished meanwhile by another process sharing --out
        bar.set_postfix_str(f"{row.id} seed {seed}")
        append_runs(runs_csv, run_cell(row, seed, table, args, out))


def _write_report(table: Table, rows: list[Row], args, out: Path, given: list[str], wall: float, n_seeds: int) -> None:
    """Every output of ``out`` from its runs.csv (:func:`bench.report.write_outputs`), with the command that
    regenerates it and, under ``--report-only``, the command and commit that judged it; and the table's own
    description beside them, ``table.json`` (:mod:`bench.describe`), which the index and the demo read."""
    from bench.cells import definitions
    from bench.describe import write_description
    from bench.report import write_outputs

    given = [a for a in given if a != "--report-only"]
    command = "python -m bench.ablations " + " ".join(shlex.quote(a) for a in given)
    judged_by = None
    if args.report_only:  # the verdicts come from this code, the cells from theirs: say both
        from core.checkpoint import git_sha

        judged_by = f"`{command} --report-only` at commit `{git_sha()}`"
    write_outputs(table, rows, args, out, command=command, wall_time_s=wall, n_seeds=n_seeds,
                  definitions=definitions(table, args.preset, args.dataset), judged_by=judged_by,
                  machine=f"{platform.node() or 'unknown'}: {platform.processor() or platform.machine()}, "
                          f"{os.cpu_count()} cores, torch {torch.__version__}, "
                          f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU only'}")
    write_description(table, args.preset, args.dataset, out)


def _update_indexes(out: Path, default_name: str) -> None:
    """When ``out`` is the table's default directory (``results/<default_name>``, never a scratch ``--out``):
    the README's ``<!-- <default_name>-results -->`` block and the index of every table's claims."""
    from bench.report import update_readme

    default_out = out.resolve() == Path("results", default_name).resolve()
    if default_out and Path("README.md").is_file() and update_readme(Path("README.md"), default_name, out / "report.md"):
        print("README.md: results section updated")
    if default_out:  # the index of every table's claims (results/README.md, index.html, forest.png)
        from bench.index import write_index

        write_index(out.resolve().parent)
        print(f"{out.resolve().parent / 'README.md'}: results index updated")


if __name__ == "__main__":
    sys.exit(main())

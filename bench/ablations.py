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

from bench.cells import TABLES, chain, code_runs_dir, fingerprint_of, get_table, run_cell, unit_config
from bench.provenance import dirty_code
from bench.runs import append_runs, finished_cells, read_runs
from bench.spec import Row, Table

# ---------------------------------------------------------------------------------------------- CLI

def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.ablations", description=__doc__.split("\n\n")[0])
    p.add_argument("--paper", required=True, choices=sorted(TABLES))
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
                   help="plan the seeds per claim from a pilot's runs.csv (80%% power, capped by --cap), write "
                        "<out>/plan.csv and print the confirmatory command; trains nothing")
    p.add_argument("--cap", type=int, default=10, help="most seeds per row a plan may ask for (default 10)")
    p.add_argument("--verify", nargs=2, metavar=("ROW", "SEED"), default=None,
                   help="retrain one cell from scratch (in a temporary directory) and check that it reproduces "
                        "the numbers runs.csv holds for it, bit for bit; exit 1 if not")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per cell (default 1: one process per core is 1.3-1.6x faster than one "
                        "process using every core; the count is stored with each run, as it changes float results)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="seeds trained in parallel, one process each (default: one per core)")
    p.add_argument("--no-progress", action="store_true")
    from bench.launch import add_launcher_arguments

    add_launcher_arguments(p)  # --launcher local|slurm|debug and the SLURM options (submitit)
    args = p.parse_args(argv)
    args.dataset = args.dataset or get_table(args.paper).dataset
    return args


ROOT = Path(__file__).resolve().parent.parent  # the repository (workers run `python -m bench.ablations` there)


def run_jobs(args, argv: list[str], seeds: list[int], out: Path) -> None:
    """Train ``seeds`` in ``args.jobs`` parallel processes (``--seed S --jobs 1`` each, one thread per
    process unless ``--threads``); each logs to ``<out>/logs/seeds-<S...>.log``. Cells of one seed
    share their Stage-I parents, so seeds are the unit of parallel work."""
    import subprocess

    groups = [seeds[i::args.jobs] for i in range(min(args.jobs, len(seeds)))]
    (out / "logs").mkdir(parents=True, exist_ok=True)
    strip = {"--jobs", "--seed", "--resume", "--report-only", "--no-progress"}
    base, skip = [], False
    for a in argv:  # drop the options each child gets its own value for
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in strip:
            skip = "=" not in a and name in ("--jobs", "--seed")
            continue
        base.append(a)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    procs = []
    for group in groups:
        cmd = [sys.executable, "-m", "bench.ablations", *base, "--out", str(out.resolve()), "--resume",
               "--no-progress", "--jobs", "1", "--no-report", *[x for s in group for x in ("--seed", str(s))]]
        log = open(out / "logs" / f"seeds-{'-'.join(map(str, group))}.log", "a")
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT), log, group))
        print(f"seeds {group}: pid {procs[-1][0].pid}, log {log.name}", file=sys.stderr)
    for proc, log, group in procs:
        code = proc.wait()
        log.close()
        if code != 0:
            print(f"warning: the process for seeds {group} exited with {code}; see {log.name}", file=sys.stderr)


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
    """``--plan-from PILOT``: seeds per claim from the pilot's spread (PROTOCOL.md §4), into ``plan.csv``."""
    from bench.stats import confirmatory_seeds, fresh_seeds, plan_seeds, write_plan

    pilot = read_runs(Path(args.plan_from))
    if pilot.empty:
        print(f"error: {args.plan_from} holds no cells to plan from", file=sys.stderr)
        return 2
    if other := other_settings(pilot, args):
        print(f"error: {args.plan_from} holds cells of {other}, not {args.dataset}/{args.preset}: pass the "
              f"pilot's --dataset and --preset", file=sys.stderr)
        return 2
    p = plan_seeds(table, pilot, cap=args.cap)
    path = write_plan(p, out / "plan.csv")
    n = confirmatory_seeds(p)
    first = fresh_seeds(pilot, n)[0]
    print(p[["claim", "metric", "pilot_effect", "pilot_sd", "seeds", "mde_at_seeds", "underpowered"]].to_string(
        index=False))
    print(f"\nwrote {path}. Confirmatory run on seeds the pilot did not use:\n  python -m bench.ablations "
          f"--paper {args.paper}" + ("" if args.dataset == table.dataset else f" --dataset {args.dataset}") +
          f" --preset {args.preset} --seeds {n} --first-seed {first} --out {out} --resume")
    return 0


def verify(table: Table, rows: list[Row], args, out: Path) -> int:
    """``--verify ROW SEED``: retrain the cell from scratch and compare every score with runs.csv's."""
    import tempfile

    import pandas as pd

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
        print(f"error: {out / 'runs.csv'} holds no cell ({row_id}, seed {seed}) of this code (fingerprint "
              f"{args.fingerprint}; the file has {found or 'none'}). Check out the commit that produced it "
              f"(its git_sha column) and verify there.", file=sys.stderr)
        return 2
    expected = same.drop_duplicates("metric", keep="last").set_index("metric")["value"]
    torch.set_num_threads(args.threads)  # scoring runs in this process: the cells' thread count
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        records = run_cell(row, seed, table, args, Path(tmp))
    got = pd.DataFrame(records).set_index("metric")["value"]
    wall = time.time() - t0
    lines = [f"{m}: committed {float(expected[m])!r}, retrained {float(got.get(m, float('nan')))!r}"
             + ("" if m in got and got[m] == expected[m] else "   <-- differs") for m in expected.index]
    print(f"verify {row_id} seed {seed} (code {args.fingerprint}, {args.threads} thread(s), {wall:.0f} s):\n  "
          + "\n  ".join(lines))
    same_all = all(m in got and got[m] == expected[m] for m in expected.index)
    print("reproduced bit for bit" if same_all else "NOT reproduced", file=sys.stderr)
    return 0 if same_all else 1


def list_rows(table: Table, rows: list[Row], args) -> None:
    for row in rows:
        print(f"== {row.id}: {row.label}  (paper: {row.paper or '-'})")
        for u in chain(row.unit):
            cfg = unit_config(u, args.preset, 0, args.dataset, args.device,
                              code_runs_dir(Path(args.out), args), args.threads)
            print(f"   unit {u.key(args.preset, 0)}: " + json.dumps(
                {k: v for k, v in cfg.to_dict().items() if k in ("model_name", "resolution", "model", "init_modules")},
                sort_keys=True))


def main(argv=None) -> int:
    args = parse_args(argv)
    table = get_table(args.paper)
    default_name = args.paper + ("" if args.dataset == table.dataset else f"-{args.dataset}")  # e.g. sgan-shapes
    args.out = args.out or f"results/{default_name}"
    out = Path(args.out)
    rows = table.rows_for(args.preset)
    known = {r.id for r in rows}
    bad = [r for r in args.only if r not in known]
    if bad:
        print(f"error: unknown row(s) {bad}; rows are {sorted(known)}", file=sys.stderr)
        return 2
    if args.list:
        list_rows(table, rows, args)
        return 0
    fingerprint = fingerprint_of(args)
    if args.plan_from:
        return plan(table, args, out)
    if args.verify:
        return verify(table, rows, args, out)
    dirty = dirty_code()
    if dirty and args.preset != "smoke" and not args.report_only:
        print("error: the code has uncommitted changes; a table's cells must come from one clean commit "
              "(PROTOCOL.md §6). Commit or stash them first:\n  " + "\n  ".join(dirty), file=sys.stderr)
        return 2
    runs_csv = out / "runs.csv"
    if runs_csv.exists() and not (args.resume or args.report_only):
        print(f"error: {runs_csv} exists; pass --resume to continue it or choose another --out", file=sys.stderr)
        return 2
    n_seeds = args.seeds or table.default_seeds[args.preset]
    selected = [r for r in rows if not args.only or r.id in args.only]
    existing = read_runs(runs_csv)
    if other := other_settings(existing, args):
        print(f"error: {runs_csv} holds cells of {other}, not {args.dataset}/{args.preset}; pass the same "
              f"--dataset and --preset, or choose another --out", file=sys.stderr)
        return 2
    done = finished_cells(existing, fingerprint)
    seeds = [s for s in range(args.first_seed, args.first_seed + n_seeds) if not args.seed or s in args.seed]
    cells = [] if args.report_only else [(r, s) for s in seeds for r in selected if (r.id, s) not in done]
    t0 = time.time()
    given = list(argv if argv is not None else sys.argv[1:])
    pending = sorted({s for _, s in cells})
    if args.launcher and cells:  # independent jobs through submitit (a cluster, or local processes)
        from bench.launch import launch_cells

        launch_cells(args.paper, [(r.id, s) for r, s in cells], args, out)  # at most --jobs local jobs at once
        cells = []
    elif args.jobs > 1 and len(pending) > 1:
        run_jobs(args, given, pending, out)
        cells = []
    else:
        torch.set_num_threads(args.threads)
    bar = tqdm(cells, desc=f"{args.paper} cells", disable=args.no_progress, position=0)
    for row, seed in bar:
        if (row.id, seed) in finished_cells(read_runs(runs_csv), fingerprint):
            continue  # finished meanwhile by another process sharing --out
        bar.set_postfix_str(f"{row.id} seed {seed}")
        append_runs(runs_csv, run_cell(row, seed, table, args, out))
    wall = time.time() - t0
    if args.no_report:
        return 0
    from bench.report import write_outputs

    given = [a for a in given if a != "--report-only"]
    command = "python -m bench.ablations " + " ".join(shlex.quote(a) for a in given)
    write_outputs(table, rows, args, out, command=command, wall_time_s=wall, n_seeds=n_seeds,
                  machine=f"{platform.node() or 'unknown'}: {platform.processor() or platform.machine()}, "
                          f"{os.cpu_count()} cores, torch {torch.__version__}, "
                          f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU only'}")
    from bench.report import update_readme

    # the README's <!-- <name>-results --> block, e.g. sgan-shapes; never for a scratch --out
    default_out = out.resolve() == Path("results", default_name).resolve()
    if default_out and Path("README.md").is_file() and update_readme(Path("README.md"), default_name, out / "report.md"):
        print("README.md: results section updated")
    print(f"done: {out}/report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

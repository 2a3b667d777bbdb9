"""Run benchmark work in parallel: on this machine in seed lanes (:func:`seed_lanes`, what ``--jobs N``
runs), on a SLURM cluster as `submitit <https://github.com/facebookincubator/submitit>`_ jobs
(``--launcher slurm``), or as submitit jobs in this process (``--launcher debug``, for tests and ``pdb``).

**One local launcher.** :func:`seed_lanes` is the one way to run in parallel on one machine: worker
processes that each run the command line for a share of the seeds, each with its own log
(``<out>/logs/seeds-<S...>.log``) and ``--threads`` torch threads (``OMP_NUM_THREADS`` set to match).
It needs nothing beyond the standard library and serves both :mod:`bench.ablations` and
:mod:`bench.sweep`. ``--launcher local`` is kept as an alias of it (:data:`LOCAL`): submitit's local
executor did the same job a second way (and submitit is a development dependency only).

Every submitit job runs :func:`bench.cells.run_cell` for each of its cells (on SLURM in a fresh process) and
appends the records to ``<out>/runs.csv`` itself (:func:`bench.runs.append_runs` is atomic under a
lock file), so the result is the same ``runs.csv`` whichever launcher ran the cells, and a cell
finished before a crash or a cancelled job is kept.

**Jobs and shared parents.** Cells of one seed can share training units: the Stage-II rows start
from the Stage-I run of the same seed and CA setting (:attr:`bench.spec.Unit.parent`), and a unit
is trained once, by whichever cell gets there first. Two jobs must therefore never hold cells that
share a unit, or both would train (and checkpoint into) the same run directory at once. A job is:

* ``lineage`` (the default): the cells of one seed whose training chains start at the same root
  unit, run in table order. Cells share a unit only if they share its root, so this is the finest
  split that is safe: for StackGAN it gives 5 jobs per seed (the two low-resolution Stage-I
  lineages with their Stage-II rows, the two high-resolution Stage-I rows, GAN-INT-CLS), which a
  cluster runs side by side.
* ``seed``: every cell of one seed, in table order (what a seed lane runs locally).

A cell's numbers do not depend on which job, lane or process trained it (CPU training is bit-exact;
each job and lane sets ``torch.set_num_threads(--threads)`` and ``OMP_NUM_THREADS``), only its wall time does.

**Failures.** A cell that fails is recorded as ``__failed__`` in ``runs.csv`` by ``run_cell`` (as in
a serial run) and reported as failed; the job goes on with its next cell. A job that dies as a whole
(killed, out of memory, timed out more often than submitit requeues it) reports its unfinished cells
as failed with the job's error; :func:`launch` never raises for either. On a timeout or preemption,
submitit requeues the job (:meth:`CellGroupJob.checkpoint`): finished cells are skipped and an
interrupted unit resumes from its last checkpoint.

The job folder (pickles, ``<job id>_0_log.out`` / ``.err`` per job) is ``<out>/logs/submitit``,
printed when the jobs start; git ignores it.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: jobs import bench/ and core/ from here
LAUNCHERS = ("slurm", "debug")  # submitit's executors; local parallel runs are seed lanes
LOCAL = "local"                  # ``--launcher local``: an alias of the seed lanes (``--jobs``), not submitit
GROUPINGS = ("lineage", "seed")
DEFAULT_TIMEOUT_MIN = {"slurm": 24 * 60, "debug": 7 * 24 * 60}
POLL_S = {"slurm": 15.0, "debug": 0.0}
_PLAIN = (str, int, float, bool, type(None))


# ---------------------------------------------------------------------------------------------- seed lanes

def seed_lanes(module: str, base: list[str], seeds: list[int], jobs: int, log_dir: Path, threads: int = 1) -> None:
    """The one local launcher: run ``python -m module *base --threads T --seed S ...`` in ``jobs`` parallel
    processes, the seeds dealt round-robin (one process per core), each with ``threads`` torch threads
    (``--threads``, which ``module`` must take, and ``OMP_NUM_THREADS``) and its own log,
    ``<log_dir>/seeds-<S...>.log``. Waits for all; a process that fails is named (its log says why), the
    others go on."""
    import subprocess

    groups = [seeds[i::jobs] for i in range(min(jobs, len(seeds)))]
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    procs = []
    for group in groups:
        cmd = [sys.executable, "-m", module, *base, "--threads", str(threads),
               *[x for s in group for x in ("--seed", str(s))]]
        log = open(log_dir / f"seeds-{'-'.join(map(str, group))}.log", "a")
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT), log, group))
        print(f"seeds {group}: pid {procs[-1][0].pid}, log {log.name}", file=sys.stderr)
    for proc, log, group in procs:
        code = proc.wait()
        log.close()
        if code != 0:
            print(f"warning: the process for seeds {group} exited with {code}; see {log.name}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- cells

@dataclass(frozen=True)
class Cell:
    """One (row, seed) cell and everything a fresh process needs to run it; picklable."""

    paper: str
    preset: str
    row: str
    seed: int
    out: str                                     # absolute output directory (runs.csv, runs/)
    options: dict = field(default_factory=dict)  # the bench's argparse options, plain values only
    cwd: str = ""                                # the launching process's working directory
    lineage: str = ""                            # key of the root unit of the row's training chain

    @property
    def name(self) -> str:
        return f"{self.row} seed {self.seed}"


@dataclass
class Outcome:
    """What became of one cell: ``status`` is ``done`` or ``failed`` (then ``error`` says why)."""

    row: str
    seed: int
    status: str
    error: str = ""
    job_id: str = ""
    log: str = ""           # the job's stdout log (its stderr is beside it, ``.err``)
    wall_time_s: float = 0.0


def plain_options(args: argparse.Namespace) -> dict:
    """``vars(args)`` without values a fresh process could not rebuild from text (only str, numbers,
    bools, None, and lists/tuples/dicts of those)."""

    def plain(v) -> bool:
        if isinstance(v, (list, tuple)):
            return all(plain(x) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        return isinstance(v, _PLAIN)

    return {k: v for k, v in vars(args).items() if plain(v)}


def run_cell_job(cell: Cell) -> list[dict]:
    """Run one cell: rebuild the table and ``args``, ``bench.cells.run_cell``, append its records to
    ``<out>/runs.csv``; returns the records. Raises for a cell that cannot start (e.g. an unknown row)."""
    import torch

    threads = int(cell.options.get("threads") or 1)
    old_threads, old_cwd = torch.get_num_threads(), os.getcwd()
    torch.set_num_threads(threads)
    print(f"   torch threads: {torch.get_num_threads()}", flush=True)
    try:
        if cell.cwd:
            os.chdir(cell.cwd)
        from bench import cells as ablations  # the cell runner, without the CLI
        from bench.runs import append_runs

        table = ablations.get_table(cell.paper)
        rows = {r.id: r for r in table.rows_for(cell.preset)}
        if cell.row not in rows:
            raise KeyError(f"unknown row {cell.row!r} for {cell.paper} preset {cell.preset}; rows are {sorted(rows)}")
        args = argparse.Namespace(**{**cell.options, "paper": cell.paper, "preset": cell.preset, "no_progress": True})
        out = Path(cell.out)
        records = ablations.run_cell(rows[cell.row], cell.seed, table, args, out)
        append_runs(out / "runs.csv", records)
        return records
    finally:
        os.chdir(old_cwd)
        torch.set_num_threads(old_threads)


class CellGroupJob:
    """The callable a job runs: its cells in order, each failure caught, one :class:`Outcome`-like dict
    per cell. Requeued after a timeout or preemption with the cells it finished (``checkpoint``)."""

    def __init__(self) -> None:
        self.finished: dict[int, dict] = {}

    def __call__(self, cells: list[Cell]) -> list[dict]:
        print(f"job: {len(cells)} cell(s), python {sys.executable}, cwd {os.getcwd()}", flush=True)
        for i, cell in enumerate(cells):
            if i in self.finished:
                print(f"== {cell.name}: finished before the requeue", flush=True)
                continue
            t0 = time.time()
            print(f"== {cell.name}", flush=True)
            try:
                records = run_cell_job(cell)
                failed = [r for r in records if r.get("metric") == "__failed__"]
                outcome = {"status": "failed", "error": failed[0].get("error", "")} if failed else \
                    {"status": "done", "error": ""}
            except (Exception, SystemExit) as e:  # noqa: BLE001 - one cell never stops the others
                traceback.print_exc()
                outcome = {"status": "failed", "error": f"{type(e).__name__}: {e}".replace("\n", " ")[:500]}
            outcome["wall_time_s"] = round(time.time() - t0, 1)
            print(f"   {outcome['status']} in {outcome['wall_time_s']} s {outcome['error']}".rstrip(), flush=True)
            self.finished[i] = outcome
        return [self.finished[i] for i in range(len(cells))]

    def checkpoint(self, *args, **kwargs):
        """Called by submitit on a timeout or preemption: resubmit with the cells finished so far."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def group_cells(cells: list[Cell], by: str = "lineage") -> list[list[Cell]]:
    """Cells into jobs, first-seen order kept: ``lineage`` = one job per (seed, root unit), ``seed`` = one
    job per seed. Never puts two cells that share a training unit in different jobs."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}; choose one of {GROUPINGS}")
    groups: dict[tuple, list[Cell]] = {}
    for c in cells:
        key = (c.paper, c.preset, c.out, c.seed) + ((c.lineage or c.row,) if by == "lineage" else ())
        groups.setdefault(key, []).append(c)
    return list(groups.values())


# ---------------------------------------------------------------------------------------------- executors

def make_executor(launcher: str, folder: Path, slurm: dict | None = None, threads: int = 1,
                  max_parallel: int | None = None):
    """A ``submitit.AutoExecutor`` for ``launcher`` with its parameters set.

    ``slurm`` keys: ``partition``, ``timeout_min``, ``cpus_per_task``, ``gpus_per_node``,
    ``array_parallelism``, ``mem_gb``, ``setup`` (shell lines run before the job), ``name``; any other
    key is passed to submitit's SLURM executor as ``slurm_<key>`` (e.g. ``account``, ``qos``,
    ``constraint``, ``additional_parameters``)."""
    import submitit

    if launcher not in LAUNCHERS:
        local = f" ({LOCAL!r} runs seed lanes: bench.launch.seed_lanes)" if launcher == LOCAL else ""
        raise ValueError(f"unknown submitit launcher {launcher!r}; choose one of {LAUNCHERS}{local}")
    s = {k: v for k, v in (slurm or {}).items() if v is not None}
    timeout = int(s.pop("timeout_min", None) or DEFAULT_TIMEOUT_MIN[launcher])
    setup = [f"cd {shlex.quote(s.pop('cwd', None) or os.getcwd())}",
             f"export PYTHONPATH={shlex.quote(str(ROOT))}${{PYTHONPATH:+:$PYTHONPATH}}",
             f"export OMP_NUM_THREADS={int(threads)}", *s.pop("setup", [])]
    generic = {"timeout_min": timeout, "name": s.pop("name", "bench"),
               "cpus_per_task": int(s.pop("cpus_per_task", None) or threads),
               "gpus_per_node": int(s.pop("gpus_per_node", None) or 0)}
    if "mem_gb" in s:
        generic["mem_gb"] = float(s.pop("mem_gb"))
    executor = submitit.AutoExecutor(folder=folder, cluster=launcher)
    if launcher == "slurm":
        parallel = s.pop("array_parallelism", None) or max_parallel
        specific = {f"slurm_{k}": v for k, v in s.items()}
        if parallel:
            specific["slurm_array_parallelism"] = int(parallel)
        executor.update_parameters(**generic, slurm_setup=setup, **specific)
    else:
        executor.update_parameters(**generic)
    return executor


def _collect(job) -> tuple[list[dict] | None, BaseException | None]:
    """A finished job's per-cell results, or the job's exception; never raises (and never enters the
    debug executor's post-mortem debugger: ``exception()`` runs a debug job without it)."""
    try:
        exc = job.exception()
        return (job.result(), None) if exc is None else (None, exc)
    except Exception as e:  # noqa: BLE001 - e.g. UncompletedJobError for a job that vanished
        return None, e


def _job_error(job, exc: BaseException) -> str:
    text = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    tail = " | ".join(text[-3:])[-400:]
    return f"job {job.job_id} failed ({type(exc).__name__}): {tail}"


def launch(cells: list[Cell], launcher: str, folder: Path, slurm: dict | None = None,
           max_parallel: int | None = None, group_by: str = "lineage", progress: bool = True) -> list[Outcome]:
    """Run ``cells`` as submitit jobs (grouped by :func:`group_cells`), wait, and return one
    :class:`Outcome` per cell, in the order of ``cells``; never raises for a failed cell or job.

    ``slurm``: one job array, at most ``max_parallel`` (or ``slurm["array_parallelism"]``) tasks at once.
    ``debug``: the jobs run one after another inside this process (``pdb``-free; logs still go to ``folder``)."""
    from tqdm import tqdm

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    groups = group_cells(cells, group_by)
    if not groups:
        return []
    threads = max(int(c.options.get("threads") or 1) for c in cells)
    executor = make_executor(launcher, folder, slurm, threads=threads, max_parallel=max_parallel)
    print(f"submitit ({launcher}): {len(cells)} cell(s) in {len(groups)} job(s) (one per {group_by}); "
          f"job logs in {folder}", file=sys.stderr, flush=True)

    results: dict[int, tuple] = {}  # group index -> (job, per-cell results or None, exception or None)
    bar = tqdm(total=len(groups), desc=f"{launcher} jobs", disable=not progress, file=sys.stderr)
    n_failed = 0

    def finish(i: int, job) -> None:
        nonlocal n_failed
        res, exc = _collect(job)
        results[i] = (job, res, exc)
        n_failed += exc is not None or any(r["status"] != "done" for r in res)
        bar.set_postfix_str(f"seed {groups[i][0].seed}: {', '.join(c.row for c in groups[i])}"
                            + (f"; {n_failed} job(s) with failures" if n_failed else ""))
        bar.update(1)

    with executor.batch():  # one SLURM job array; a fresh callable per job (it holds the job's progress)
        jobs = [executor.submit(CellGroupJob(), g) for g in groups]
    if launcher == "slurm":
        print(f"submitted job array {jobs[0].job_id.split('_')[0]}", file=sys.stderr, flush=True)
    pending = dict(enumerate(jobs))
    while pending:
        for i, job in list(pending.items()):
            if launcher == "debug" or job.done():
                del pending[i]
                finish(i, job)
        if pending:
            time.sleep(POLL_S[launcher])
    bar.close()

    outcomes: dict[tuple[int, int], Outcome] = {}
    for i, group in enumerate(groups):
        job, res, exc = results[i]
        log = str(job.paths.stdout) if launcher != "debug" else str(folder)
        for k, cell in enumerate(group):
            r = res[k] if res is not None else {"status": "failed", "error": _job_error(job, exc)}
            outcomes[(i, k)] = Outcome(cell.row, cell.seed, r["status"], r.get("error", ""), str(job.job_id), log,
                                       r.get("wall_time_s", 0.0))
    by_cell = {id(cell): outcomes[(i, k)] for i, g in enumerate(groups) for k, cell in enumerate(g)}
    ordered = [by_cell[id(c)] for c in cells]
    failed = [o for o in ordered if o.status != "done"]
    for o in failed:
        print(f"failed: {o.row} seed {o.seed} (job {o.job_id}, log {o.log}): {o.error}", file=sys.stderr)
    print(f"submitit ({launcher}): {len(ordered) - len(failed)} of {len(ordered)} cell(s) done", file=sys.stderr)
    return ordered


# ---------------------------------------------------------------------------------------------- bench CLI

def add_launcher_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The launcher options of ``python -m bench.ablations``."""
    g = parser.add_argument_group("launcher (see bench/launch.py)")
    g.add_argument("--launcher", choices=(LOCAL, *LAUNCHERS), default=None,
                   help="slurm = the cells as a SLURM job array, debug = as submitit jobs in this process (logs in "
                        "<out>/logs/submitit); local = an alias of the default: --jobs seed lanes on this machine")
    g.add_argument("--launch-group", choices=GROUPINGS, default="lineage",
                   help="cells per job: lineage = one seed's cells that share a Stage-I parent (default), "
                        "seed = all of one seed's cells")
    g.add_argument("--slurm-partition", default=None, help="SLURM partition")
    g.add_argument("--slurm-time", type=int, default=None, metavar="MIN",
                   help="time limit per job in minutes (default: 1440); a job that runs out is requeued and "
                        "resumes")
    g.add_argument("--slurm-gpus", type=int, default=None, help="GPUs per job (default: 0, or 1 with --device cuda)")
    g.add_argument("--slurm-cpus", type=int, default=None, help="CPUs per job (default: --threads)")
    g.add_argument("--slurm-parallel", type=int, default=None,
                   help="most array tasks running at once on SLURM (default: all)")
    return parser


def launch_cells(table_paper: str, cells: list, args: argparse.Namespace, out: Path) -> list[Outcome]:
    """Run ``cells`` (``(row id, seed)`` pairs; a :class:`bench.spec.Row` also works in place of the id)
    of ``table_paper`` as submitit jobs with ``args.launcher`` (``slurm`` or ``debug``) and the ``--slurm-*``
    options, appending to ``<out>/runs.csv``. Returns one :class:`Outcome` per cell (the caller may ignore it)."""
    from bench.cells import chain, get_table

    preset = getattr(args, "preset", "quick")
    launcher = args.launcher
    out = Path(out).resolve()
    rows = {r.id: r for r in get_table(table_paper).rows_for(preset)}
    options = plain_options(args)
    built = []
    for row, seed in cells:
        rid = getattr(row, "id", row)
        lineage = chain(rows[rid].unit)[0].key(preset, int(seed)) if rid in rows else f"?{rid}"
        built.append(Cell(table_paper, preset, rid, int(seed), str(out), options, os.getcwd(), lineage))
    device = str(getattr(args, "device", "") or "")
    gpus = getattr(args, "slurm_gpus", None)
    if gpus is None:
        gpus = 1 if device.startswith("cuda") else 0
    slurm = {"partition": getattr(args, "slurm_partition", None),
             "timeout_min": getattr(args, "slurm_time", None) or getattr(args, "timeout_min", None),
             "cpus_per_task": getattr(args, "slurm_cpus", None) or getattr(args, "threads", 1),
             "gpus_per_node": gpus,
             "array_parallelism": getattr(args, "slurm_parallel", None),
             "name": f"bench-{table_paper}-{preset}"}
    return launch(built, launcher, out / "logs" / "submitit", slurm=slurm,
                  group_by=getattr(args, "launch_group", None) or "lineage",
                  progress=not getattr(args, "no_progress", False))

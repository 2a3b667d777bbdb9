"""bench.launch: the one local launcher (seed lanes: ``--jobs N``, and ``--launcher local`` as its alias) runs
one worker process per share of the seeds, each with its own log and one thread; smoke cells run as submitit
jobs (DebugExecutor: in process) land in runs.csv exactly as the lanes' fresh processes write them; a failing
cell or job is reported without stopping the others; SLURM parameters reach the sbatch script."""
import argparse
import json
import math
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

import bench.ablations as ab
import bench.cells as cells_mod
import bench.launch as launch
from bench.launch import Cell, add_launcher_arguments, group_cells, launch_cells, make_executor

GOOD = [("stage1-lo", 0), ("stage1-lo-ca", 0), ("stage1-lo", 1)]


def bench_args(out, **launcher):
    args = ab.parse_args(["--paper", "stackgan", "--preset", "smoke", "--out", str(out), "--no-progress"])
    for k, v in launcher.items():
        setattr(args, k, v)
    return args


def cells_of(runs: pd.DataFrame) -> list[tuple[str, int]]:
    return sorted({(r, int(s)) for r, s in zip(runs["row"], runs["seed"])})


@pytest.fixture(scope="module")
def lanes(tmp_path_factory):
    """Two smoke cells (one row, seeds 0 and 1) through ``--launcher local --jobs 2``: the alias of the seed
    lanes, so two worker processes, one per seed."""
    out = tmp_path_factory.mktemp("launch") / "stackgan"
    assert ab.main(["--paper", "stackgan", "--preset", "smoke", "--seeds", "2", "--only", "stage1-lo", "--out",
                    str(out), "--launcher", "local", "--jobs", "2", "--no-progress", "--no-report"]) == 0
    return out


def test_launcher_local_is_an_alias_of_the_seed_lanes(lanes):
    assert ab.parse_args(["--paper", "stackgan", "--launcher", "local"]).launcher is None  # the --jobs path
    runs = pd.read_csv(lanes / "runs.csv")
    assert not (runs["metric"] == "__failed__").any(), runs["error"].dropna().tolist()
    assert cells_of(runs) == [("stage1-lo", 0), ("stage1-lo", 1)]
    assert runs["value"].map(math.isfinite).all()
    assert len(runs) == len(runs.drop_duplicates(["row", "seed", "metric"]))  # each cell written once
    assert not (lanes / "logs" / "submitit").exists()  # no second local mechanism ran
    logs = sorted(p.name for p in (lanes / "logs").iterdir())
    assert logs == ["seeds-0.log", "seeds-1.log"]  # one log per worker
    configs = [json.loads(p.read_text()) for p in (lanes / "runs").glob("*/*/config.json")]  # runs/<code>/<unit>
    assert {c["model_seed"] for c in configs} == {0, 1} and {c["num_threads"] for c in configs} == {1}


def test_seed_lanes_deal_the_seeds_with_a_log_and_one_thread_per_worker(tmp_path, monkeypatch, capsys):
    """Round-robin shares of the seeds, one process each, with ``--threads`` and ``OMP_NUM_THREADS`` set and
    stdout and stderr in the worker's own log; a worker that fails is named and the others are waited for."""
    started = []

    class Worker:
        def __init__(self, cmd, stdout, stderr, env, cwd):
            started.append({"cmd": cmd, "log": stdout.name, "stderr": stderr, "omp": env["OMP_NUM_THREADS"],
                            "cwd": cwd})
            self.pid, self.code = 1000 + len(started), 3 if len(started) == 1 else 0

        def wait(self):
            return self.code

    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    monkeypatch.setattr(subprocess, "Popen", Worker)
    launch.seed_lanes("bench.sweep", ["name", "--out", "o"], [0, 1, 2, 3, 4], 2, tmp_path / "logs", threads=1)
    assert [w["cmd"][1:] for w in started] == [
        ["-m", "bench.sweep", "name", "--out", "o", "--threads", "1", "--seed", "0", "--seed", "2", "--seed", "4"],
        ["-m", "bench.sweep", "name", "--out", "o", "--threads", "1", "--seed", "1", "--seed", "3"]]
    assert all(w["cmd"][0] == sys.executable and w["cwd"] == launch.ROOT for w in started)
    assert [w["omp"] for w in started] == ["1", "1"] and all(w["stderr"] is subprocess.STDOUT for w in started)
    assert [os.path.basename(w["log"]) for w in started] == ["seeds-0-2-4.log", "seeds-1-3.log"]
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["seeds-0-2-4.log", "seeds-1-3.log"]
    assert "the process for seeds [0, 2, 4] exited with 3" in capsys.readouterr().err


def test_run_jobs_hands_the_workers_the_command_without_the_launcher_options(tmp_path, monkeypatch):
    """The workers get the command as given, less what the lanes set per worker (seeds, jobs, threads) and the
    launcher alias; each writes into the shared --out without a report."""
    calls = []
    monkeypatch.setattr(launch, "seed_lanes", lambda *a: calls.append(a))
    argv = ["--paper", "stackgan", "--preset", "smoke", "--launcher", "local", "--jobs", "2", "--threads=2",
            "--seed", "0", "--seed", "1", "--resume"]
    args = ab.parse_args(argv)
    ab.run_jobs(args, argv, [0, 1], tmp_path)
    module, base, seeds, jobs, log_dir, threads = calls[0]
    assert (module, seeds, jobs, log_dir, threads) == ("bench.ablations", [0, 1], 2, tmp_path / "logs", 2)
    assert base == ["--paper", "stackgan", "--preset", "smoke", "--out", str(tmp_path.resolve()), "--resume",
                    "--no-progress", "--jobs", "1", "--no-report"]


def test_debug_executor_reports_a_failing_cell_and_matches_the_lanes_numbers(lanes, tmp_path, monkeypatch):
    """In-process jobs, one per lineage: a training failure in one cell is recorded as __failed__ and
    reported; the other cell's numbers equal those of a seed lane's fresh process."""
    real = cells_mod.train_unit

    def train_unit(unit, args, seed, runs_dir):
        if unit.overrides.get("model.ca"):
            raise RuntimeError("boom")
        return real(unit, args, seed, runs_dir)

    monkeypatch.setattr(cells_mod, "train_unit", train_unit)
    out = tmp_path / "stackgan"
    outcomes = launch_cells("stackgan", GOOD[:2], bench_args(out, launcher="debug"), out)
    assert [(o.row, o.status) for o in outcomes] == [("stage1-lo", "done"), ("stage1-lo-ca", "failed")]
    assert len({o.job_id for o in outcomes}) == 2  # different Stage-I parents: separate jobs
    assert "RuntimeError: boom" in outcomes[1].error
    runs = pd.read_csv(out / "runs.csv")
    assert runs.loc[runs["row"] == "stage1-lo-ca", "metric"].tolist() == ["__failed__"]
    mine = runs[runs["row"] == "stage1-lo"].set_index("metric")["value"]
    theirs = pd.read_csv(lanes / "runs.csv").query("row == 'stage1-lo' and seed == 0").set_index("metric")["value"]
    pd.testing.assert_series_equal(mine.sort_index(), theirs.sort_index())


def test_a_job_that_dies_reports_its_cells_failed_and_the_others_run(tmp_path, monkeypatch):
    calls = []

    def job(self, cells):
        calls.append([c.row for c in cells])
        if cells[0].seed == 0:
            raise MemoryError("killed")
        return [{"status": "done", "error": ""} for _ in cells]

    monkeypatch.setattr(launch.CellGroupJob, "__call__", job)
    out = tmp_path / "stackgan"
    outcomes = launch_cells("stackgan", [("stage1-lo", 0), ("stack-mid-ca", 0), ("stage1-lo-ca", 0), ("stage1-lo", 1)],
                            bench_args(out, launcher="debug"), out)
    assert [o.status for o in outcomes] == ["failed", "failed", "failed", "done"]
    assert "MemoryError" in outcomes[0].error and "killed" in outcomes[0].error
    assert len(calls) == 3  # every job ran


def test_cells_sharing_a_stage1_parent_share_a_job():
    rows = {r.id: r for r in ab.get_table("stackgan").rows_for("smoke")}
    cells = [Cell("stackgan", "smoke", r, s, "/o", {}, "", ab.chain(rows[r].unit)[0].key("smoke", s))
             for s in (0, 1) for r in ("stage1-lo-ca", "stack-mid-ca", "stack-hi-ca-tt", "stage1-lo", "stack-mid-tt",
                                       "stage1-hi", "gan-int-cls")]
    names = [[(c.row, c.seed) for c in g] for g in group_cells(cells, "lineage")]
    assert names[:4] == [[("stage1-lo-ca", 0), ("stack-mid-ca", 0), ("stack-hi-ca-tt", 0)],
                         [("stage1-lo", 0), ("stack-mid-tt", 0)], [("stage1-hi", 0)], [("gan-int-cls", 0)]]
    assert len(names) == 8
    assert [len(g) for g in group_cells(cells, "seed")] == [7, 7]
    with pytest.raises(ValueError):
        group_cells(cells, "cell")


def test_slurm_options_reach_the_sbatch_script(tmp_path, monkeypatch):
    """No cluster here: a stub ``srun`` on PATH lets submitit build its SLURM executor, whose sbatch
    script is rendered (not submitted)."""
    from submitit.slurm.slurm import _make_sbatch_string

    srun = tmp_path / "bin" / "srun"
    srun.parent.mkdir()
    srun.write_text("#!/bin/sh\nexit 1\n")
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{srun.parent}{os.pathsep}{os.environ['PATH']}")

    p = add_launcher_arguments(argparse.ArgumentParser())
    a = p.parse_args(["--launcher", "slurm", "--slurm-partition", "cpu", "--slurm-time", "90", "--slurm-gpus", "1",
                      "--slurm-cpus", "4", "--slurm-parallel", "3"])
    assert (a.launcher, a.slurm_partition, a.slurm_time, a.slurm_gpus, a.slurm_cpus) == ("slurm", "cpu", 90, 1, 4)
    ex = make_executor("slurm", tmp_path / "jobs", {"partition": a.slurm_partition, "timeout_min": a.slurm_time,
                                                    "gpus_per_node": a.slurm_gpus, "cpus_per_task": a.slurm_cpus},
                       threads=1, max_parallel=a.slurm_parallel)
    text = _make_sbatch_string(command="python -m submitit.core._submit x", folder=tmp_path / "jobs", map_count=5,
                               **ex._executor.parameters)
    for flag in ("--partition=cpu", "--time=90", "--gpus-per-node=1", "--cpus-per-task=4", "--array=0-4%3",
                 "export OMP_NUM_THREADS=1", f"cd {os.getcwd()}"):
        assert flag in text, flag
    with pytest.raises(ValueError):
        make_executor("kubernetes", tmp_path)
    with pytest.raises(ValueError, match="seed lanes"):  # local parallel runs are not submitit's
        make_executor("local", tmp_path)


def test_a_requeued_job_skips_the_cells_it_finished(monkeypatch):
    """submitit calls ``checkpoint`` on a timeout/preemption and reruns the pickled callable: cells
    finished before it are not run (nor appended to runs.csv) twice."""
    import pickle

    ran = []
    monkeypatch.setattr(launch, "run_cell_job", lambda cell: ran.append(cell.row) or [])
    cells = [Cell("stackgan", "smoke", r, 0, "/o") for r in ("a", "b", "c")]
    job = launch.CellGroupJob()
    job.finished[0] = {"status": "done", "error": "", "wall_time_s": 1.0}
    resubmitted = pickle.loads(pickle.dumps(job.checkpoint(cells)))
    assert [r["status"] for r in resubmitted.result()] == ["done"] * 3
    assert ran == ["b", "c"]


def test_ablations_cli_runs_cells_through_the_launcher(tmp_path):
    """`python -m bench.ablations ... --launcher debug` trains and scores the cells through submitit and
    writes the same runs.csv and report as the in-process path."""
    import bench.ablations as ab

    out = tmp_path / "t"
    assert ab.main(["--paper", "stackgan", "--preset", "smoke", "--seeds", "1", "--only", "stage1-lo",
                    "--no-progress", "--launcher", "debug", "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert set(zip(runs["row"], runs["seed"])) == {("stage1-lo", 0)} and (out / "report.md").is_file()
    assert (out / "logs" / "submitit").is_dir()

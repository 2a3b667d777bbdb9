"""bench.launch: smoke cells run as submitit jobs (LocalExecutor = fresh processes; DebugExecutor = in
process) land in runs.csv exactly as a serial run would write them; a failing cell or job is reported
without stopping the others; SLURM parameters reach the sbatch script."""
import argparse
import math
import os
import stat

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
def local(tmp_path_factory):
    """Three smoke cells over two seeds plus an unknown row, as 2 jobs (one per seed) through submitit's
    LocalExecutor; the unknown row comes first in seed 1's job, so that job must go on past it."""
    out = tmp_path_factory.mktemp("launch") / "stackgan"
    cells = [GOOD[0], GOOD[1], ("no-such-row", 1), GOOD[2]]
    outcomes = launch_cells("stackgan", cells, bench_args(out, launcher="local", launch_group="seed", jobs=2), out)
    return out, outcomes


def test_local_executor_writes_exactly_the_cells_to_runs_csv(local):
    out, outcomes = local
    runs = pd.read_csv(out / "runs.csv")
    assert not (runs["metric"] == "__failed__").any(), runs["error"].dropna().tolist()
    assert cells_of(runs) == sorted(GOOD)
    assert runs["value"].map(math.isfinite).all()
    assert {"is_mean", "fid", "cond_acc", "diversity"} <= set(runs["metric"])
    assert len(runs) == len(runs.drop_duplicates(["row", "seed", "metric"]))  # each cell written once
    assert [(o.row, o.seed, o.status) for o in outcomes] == [
        ("stage1-lo", 0, "done"), ("stage1-lo-ca", 0, "done"), ("no-such-row", 1, "failed"), ("stage1-lo", 1, "done")]
    assert "unknown row 'no-such-row'" in outcomes[2].error


def test_local_jobs_ran_in_their_own_processes_with_logs(local):
    out, outcomes = local
    folder = out / "logs" / "submitit"
    logs = sorted(folder.glob("*_log.out"))
    assert len(logs) == 2 and len({o.job_id for o in outcomes}) == 2  # one job per seed
    assert {o.job_id for o in outcomes} != {str(os.getpid())}
    text = {p.name: p.read_text() for p in logs}
    assert all("torch threads: 1" in t for t in text.values())
    seed1 = next(t for t in text.values() if "no-such-row seed 1" in t)
    assert seed1.index("no-such-row seed 1") < seed1.index("stage1-lo seed 1")  # went on past the failure
    assert any("KeyError" in p.read_text() for p in folder.glob("*_log.err"))
    assert all(o.log and os.path.isfile(o.log) for o in outcomes)


def test_debug_executor_reports_a_failing_cell_and_matches_the_local_numbers(local, tmp_path, monkeypatch):
    """In-process jobs, one per lineage: a training failure in one cell is recorded as __failed__ and
    reported; the other cell's numbers equal those of the LocalExecutor's fresh process."""
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
    theirs = pd.read_csv(local[0] / "runs.csv").query("row == 'stage1-lo' and seed == 0").set_index("metric")["value"]
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

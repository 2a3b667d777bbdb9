"""bench.perf: ``--quick-check`` measures every registered model and the reference side by side and writes
a CSV with its columns and finite, positive numbers, plus the Markdown report (slow: run once, untimed, by
``make test-all``; ``make bench`` times it through pytest-benchmark). The numbers themselves are not checked."""
import csv
import math

import pytest
import torch

import bench.perf as perf
from core.models import available_models, get_model_spec

pytestmark = pytest.mark.slow  # times real training steps of every model and the reference


@pytest.mark.benchmark(group="perf")
def test_quick_check_measures_every_model_and_the_reference(benchmark, tmp_path):
    code = benchmark.pedantic(perf.main, args=(["--quick-check", "--out", str(tmp_path)],), rounds=1, iterations=1)
    assert code == 0
    with open(tmp_path / "cpu.csv") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == perf.CSV_COLUMNS
        rows = list(reader)
    for r in rows:
        value = float(r["value"])
        assert math.isfinite(value), r
        assert value > 0 or (value == 0 and r["measure"] in ("ms_per_step_iqr", "ms_per_call_iqr", "peak_mem_mib")), r
        assert r["device"] == "cpu" and r["threads"] == "1" and r["torch"] and r["cpu"], r
    have = {(r["model"], r["stage"], r["impl"], r["channels_last"], r["measure"]) for r in rows}
    s = perf.settings_from(perf.parse_args(["--quick-check"]))
    for model in available_models(builtin_only=True):
        phases = [p.name for p in get_model_spec(model).phases(perf.run_config(model, "smoke", s))]
        for stage in phases:
            for cl in ("False", "True"):
                for measure in ("ms_per_step", "images_per_s", "gflop_per_step", "gflop_per_s", "frac_sgemm",
                                "frac_conv", "peak_mem_mib", "params_m"):
                    assert (model, stage, "ours", cl, measure) in have, (model, stage, cl, measure)
        makes_images = get_model_spec(model).generate is not None  # not SGAN's encoder
        assert ((model, perf.SAMPLE_STAGE, "ours", "False", "ms_per_call") in have) == makes_images
        for stage in perf.REFERENCES.get(model, {}):
            assert (model, stage, "reference", "False", "ms_per_step") in have
            assert (model, stage, "ours", "True", "speedup_vs_reference") in have
    assert {r["measure"] for r in rows if r["model"] == "machine"} == {
        "sgemm_gflop_per_s", "conv_fwd_gflop_per_s", "conv_fwd_bwd_gflop_per_s"}
    report = (tmp_path / "cpu.md").read_text()
    assert "python -m bench.perf --quick-check --out" in report and "## Training steps" in report


def test_reference_and_ours_train_the_same_parameters_in_the_side_by_side():
    """What the ratio rests on: at each measured phase, ours and the reference train equally many parameters."""
    s = perf.settings_from(perf.parse_args(["--quick-check"]))
    for stage in perf.REFERENCES["stackgan"]:
        job = perf.Job("train", "stackgan", "quick", stage, "ours")
        cfg = perf.run_config("stackgan", "quick", s)
        ours = perf.our_train_step(job, cfg, torch.device("cpu"))
        ref = perf.reference_train_step(perf.Job("train", "stackgan", "quick", stage, "reference"), cfg,
                                        torch.device("cpu"))
        assert ours.params == ref.params


def test_plan_and_derived_rows():
    s = perf.Settings(device="cpu")
    jobs = perf.plan(["stackgan"], ["quick"], [1, 2], s)
    assert [j.stage for j in jobs if j.kind == "machine"] == ["start", "end", "start", "end"]
    refs = [(j.stage, j.threads) for j in jobs if j.impl == "reference"]
    assert refs == [("stage1", 1), ("stage2", 1), (perf.SAMPLE_STAGE, 1), ("stage1", 2), ("stage2", 2),
                    (perf.SAMPLE_STAGE, 2)]

    def row(model, stage, impl, measure, value, cl=False):
        return {"model": model, "preset": "quick", "stage": stage, "impl": impl, "channels_last": cl, "threads": 1,
                "measure": measure, "value": value}

    rows = [row("machine", "start", "machine", "sgemm_gflop_per_s", 100.0),
            row("machine", "end", "machine", "sgemm_gflop_per_s", 120.0),
            row("machine", "end", "machine", "conv_fwd_bwd_gflop_per_s", 60.0),
            row("stackgan", "stage1", "ours", "gflop_per_s", 30.0),
            row("stackgan", "stage1", "ours", "ms_per_step", 40.0),
            row("stackgan", "stage1", "reference", "ms_per_step", 50.0)]
    got = {(r["impl"], r["measure"]): r["value"] for r in perf.derived_rows(rows)}
    assert got == {("ours", "frac_sgemm"): 0.25, ("ours", "frac_conv"): 0.5, ("ours", "speedup_vs_reference"): 1.25}

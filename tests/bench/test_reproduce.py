"""PROTOCOL.md rule 17: every cell records what it depended on (machine, lock, data, first steps), and
``--verify`` names the first input or training step where a retrained cell departs from the committed one."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

import bench.reproduce as rep
from bench.runs import RUN_COLUMNS, append_runs, read_runs

pytestmark = pytest.mark.usefixtures("one_thread")

INPUTS = {"torch_version": "2.14.1", "lock_hash": "0123456789ab", "cpu_capability": "AVX2", "cpu_model": "AMD EPYC",
          "threads": 1, "data_hash": "d" * 12, "embedding_hash": "e" * 12}
SCORES = {"fid": 12.5, "is_mean": 3.25}


def _f32(x: float) -> float:
    return float(torch.tensor(x, dtype=torch.float32))


def _losses(*units: tuple[str, int], change: tuple[int, int] | None = None) -> str:
    """A ``first_losses`` record: ``(unit key, steps)`` each, float32 values as the loop's, differing only at
    ``change`` (unit, step)."""
    record = []
    for u, (key, n) in enumerate(units):
        d = [rep.compact(_f32(1.0 + 0.1 * k + (1e-6 if change == (u, k + 1) else 0))) for k in range(n)]
        record.append([key, {"loss_d": d, "loss_g": [rep.compact(_f32(0.5 + 0.01 * k)) for k in range(n)]}])
    return json.dumps(record, separators=(",", ":"))


def _cell(**changes) -> dict:
    return {**INPUTS, "first_losses": _losses(("s1", 20), ("s2", 20)), **changes}


def test_same_inputs_steps_and_scores_reproduce():
    lines = rep.diagnose(_cell(), _cell(), SCORES, dict(SCORES))
    assert lines == ["inputs: the same", "training: the losses of the first steps agree (20 of unit s1, 20 of unit s2)",
                     rep.REPRODUCED]


def test_a_differing_input_is_named_before_any_training_step():
    changed = _losses(("s1", 20), ("s2", 20), change=(0, 1))
    retrained = _cell(cpu_capability="AVX512", data_hash="f" * 12, first_losses=changed)
    lines = rep.diagnose(_cell(), retrained, SCORES, {**SCORES, "fid": 12.6})
    assert lines[0] == f"inputs differ: CPU capability AVX2 vs AVX512; data hash {'d' * 12} vs {'f' * 12}"
    assert lines[-1] == f"NOT reproduced: inputs differ ({lines[0].removeprefix('inputs differ: ')})"
    assert lines[1].startswith("training departs at step 1 of unit s1")  # reported too, after the inputs
    for col, name in (("lock_hash", "lock file"), ("torch_version", "torch version"), ("threads", "thread count"),
                      ("embedding_hash", "embedding hash"), ("cpu_model", "CPU model")):
        lines = rep.diagnose(_cell(), _cell(**{col: "other"}), SCORES, {**SCORES, "fid": 0.0})
        assert lines[-1].startswith(f"NOT reproduced: inputs differ ({name}"), (col, lines)


def test_same_inputs_name_the_first_training_step_whose_loss_differs():
    retrained = _cell(first_losses=_losses(("s1", 20), ("s2", 20), change=(1, 7)))
    lines = rep.diagnose(_cell(), retrained, SCORES, {**SCORES, "fid": 12.6})
    assert lines[0] == "inputs: the same"
    assert lines[-1].startswith("NOT reproduced: training departs at step 7 of unit s2 (2 of 2): loss_d "
                                "committed")
    first = rep.first_step_difference(_cell()["first_losses"], _losses(("s1", 20), ("s2", 20), change=(0, 3)))
    assert first == "step 3 of unit s1 (1 of 2): loss_d committed 1.2 vs retrained 1.200001"


def test_first_twenty_steps_equal_but_scores_differ_points_after_step_20():
    lines = rep.diagnose(_cell(), _cell(), SCORES, {**SCORES, "is_mean": 3.0})
    assert lines[-1] == "NOT reproduced: training departs after step 20 (or scoring does)"
    short = _losses(("s1", 4))
    lines = rep.diagnose(_cell(first_losses=short), _cell(first_losses=short), SCORES, {**SCORES, "is_mean": 3.0})
    assert lines[-1].startswith("NOT reproduced: training agrees at every step")


def test_a_cell_of_an_older_runs_csv_says_its_inputs_were_not_recorded(tmp_path):
    before = RUN_COLUMNS[:RUN_COLUMNS.index("error") + 1]  # the columns runs.csv had before the inputs
    old = pd.DataFrame([{"row": "r", "seed": 0, "metric": "fid", "value": 12.5, "preset": "smoke", "dataset": "shapes",
                         "code_fingerprint": "abc", "threads": 1}], columns=before)
    old.to_csv(tmp_path / "runs.csv", index=False)
    committed = read_runs(tmp_path / "runs.csv").iloc[0].to_dict()
    lines = rep.diagnose(committed, _cell(), {"fid": 12.5}, {"fid": 12.5})
    assert lines[0].startswith("inputs: not recorded") and lines[-1] == rep.REPRODUCED
    lines = rep.diagnose(committed, _cell(threads=2), {"fid": 12.5}, {"fid": 12.0})
    assert lines[0].endswith("(thread count 1 vs 2 differs)") and "first steps were not recorded" in lines[1]
    assert lines[-1] == "NOT reproduced: inputs differ (thread count 1 vs 2)"
    # an old file still loads, and new cells append their columns after its own
    append_runs(tmp_path / "runs.csv", [{"row": "r", "seed": 1, "metric": "fid", "value": 1.0, **_cell()}])
    both = read_runs(tmp_path / "runs.csv")
    assert list(both.columns) == RUN_COLUMNS and len(both) == 2
    assert both["lock_hash"].tolist()[1] == "0123456789ab"  # a hash stays text, leading zero and all


def test_loss_values_are_compact_and_exact():
    x = torch.tensor([0.1, 1 / 3, 12345.678, 1e-8], dtype=torch.float32)
    for v in x.tolist():
        c = rep.compact(v)
        assert len(repr(c)) <= 16 and torch.tensor(c, dtype=torch.float32).item() == v
    assert rep.compact(x[1].item()) != rep.compact(torch.nextafter(x[1], torch.tensor(1.0)).item())
    assert rep.compact(0.1) == 0.1  # not a float32 value: kept as is


class _Data(torch.utils.data.Dataset):
    def __init__(self, n=6, bump=0.0):
        self.images = torch.linspace(-1, 1, n * 3 * 4 * 4).reshape(n, 3, 4, 4)
        self.images[0, 0, 0, 0] += bump

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "label": i % 2}


def test_data_and_embedding_hashes_follow_the_values():
    base = rep.data_hash(_Data(), ("image", "label"))
    assert rep.data_hash(_Data(), ("image", "label")) == base and len(base) == 12
    assert rep.data_hash(_Data(bump=1e-6), ("image", "label")) != base
    assert rep.embedding_hash(type("C", (), {"text": None})()) == rep.NO_TEXT
    text = type("T", (), {"table": torch.zeros(2, 3, 4), "counts": torch.tensor([3, 2])})
    other = type("T", (), {"table": torch.zeros(2, 3, 4), "counts": torch.tensor([3, 3])})
    assert rep.embedding_hash(type("C", (), {"text": text})()) != rep.embedding_hash(type("C", (), {"text": other})())


def test_recorder_keeps_the_first_20_steps_and_stops_being_called(tmp_path):
    """The hooks of a real training run: inputs.json before the first step, first-steps.json with 20 steps of
    losses, and no hook call after them (no host sync for the rest of the run)."""
    from core.resolve import build_config
    from core.train import train

    cfg = build_config("stackgan", "smoke", {"model.stages": 1, "model.stage1_resolution": 16, "model.stage1_steps": 24,
                                             "model.stage2_steps": 0,
                                             "checkpoint_every": 100, "sample_every": 100})
    recorder = rep.UnitRecorder(tmp_path / "run")
    calls = []
    hook = recorder.step_hook

    def counted(step, losses):
        calls.append(step)
        return hook(step, losses)

    train(cfg, tmp_path / "run", progress=False, step_hook=counted, data_hook=recorder.data_hook)
    recorder.finish()
    assert calls == list(range(1, 21))
    steps = json.loads((tmp_path / "run" / rep.STEPS_FILE).read_text())
    assert sorted(steps) == ["loss_d", "loss_g"] and all(len(v) == 20 for v in steps.values())
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    at10 = next(r for r in logged if r.get("step") == 10)
    assert steps["loss_d"][9] == rep.compact(at10["loss_d"])  # the same values the log holds
    inputs = json.loads((tmp_path / "run" / rep.INPUTS_FILE).read_text())
    assert len(inputs["data_hash"]) == 12 and len(inputs["embedding_hash"]) == 12
    cell = rep.cell_inputs([("unit", tmp_path / "run")])
    assert cell["data_hash"] == inputs["data_hash"] and json.loads(cell["first_losses"]) == [["unit", steps]]
    assert rep.cell_inputs([("unit", tmp_path / "run"), ("gone", tmp_path / "none")])["loss_hash"] == ""
    # recording changes nothing the run computes
    train(cfg, tmp_path / "plain", progress=False)
    weights = [(tmp_path / r / "checkpoints" / "final" / "model.safetensors").read_bytes() for r in ("run", "plain")]
    assert weights[0] == weights[1]


def test_a_resumed_run_keeps_the_first_attempts_steps(tmp_path):
    (tmp_path / rep.STEPS_FILE).write_text('{"loss_d": [1.0]}\n')
    recorder = rep.UnitRecorder(tmp_path)
    for step in range(5, 30):  # resumed at step 4
        if recorder.step_hook(step, {"loss_d": 2.0}) is False:
            break
    recorder.finish()
    assert json.loads((tmp_path / rep.STEPS_FILE).read_text()) == {"loss_d": [1.0]}


def test_machine_inputs_name_the_cpu_and_the_lock(tmp_path):
    (tmp_path / "requirements.lock").write_text("torch==2.14.1\n")
    got = rep.machine_inputs(tmp_path)
    assert got["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and got["cpu_model"]
    assert got["torch_version"] == torch.__version__ and len(got["lock_hash"]) == 12
    assert rep.lock_hash(tmp_path / "nowhere") == ""
    assert len(rep.lock_hash()) == 12  # the repository's own lock

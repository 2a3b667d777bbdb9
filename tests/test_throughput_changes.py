"""Issue #14's changes to the loop: the thread count is part of a run, and the speed-ups that are
meant to be bit-identical (lean collate, D fixed during G's step, foreach optimizers, data held on the
device) leave a short training run's losses and weights bit-identical."""
from __future__ import annotations

import contextlib
import json

import pytest
import torch
from safetensors.torch import load_file

from core.resolve import build_config
import core.train as loop
from core import losses
from core.config import ConfigError
from core.errors import NonFiniteLossError
from core.models.base import Optim, StepContext
from core.train import train

pytestmark = pytest.mark.slow  # a dozen short StackGAN training runs

SHORT = {"model.stage1_steps": 6, "model.stage2_steps": 4, "checkpoint_every": 100, "sample_every": 100}


def _run(tmp_path, name, **overrides):
    run = train(build_config("stackgan", "smoke", {**SHORT, **overrides}), tmp_path / name, progress=False)
    log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if '"event"' not in l]
    return [{k: v for k, v in r.items() if k.startswith(("loss", "d_", "g_", "kl"))} for r in log], \
        load_file(str(run / "checkpoints" / "final" / "model.safetensors"))


def _assert_identical(a, b):
    assert a[0] == b[0]  # every logged loss, exactly
    assert a[1].keys() == b[1].keys() and all(torch.equal(a[1][k], b[1][k]) for k in a[1])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("base"), "run")


def test_lean_collate_is_bit_identical(baseline, tmp_path, monkeypatch):
    """Reading every entry of every item (the old collate) trains exactly like reading what the model uses."""
    monkeypatch.setattr(loop, "batch_keys", lambda spec, kinds: loop._TENSOR_KEYS)
    _assert_identical(_run(tmp_path, "full-collate"), baseline)
    assert loop.batch_keys.__name__ == "<lambda>"  # the patch was in force


def test_d_fixed_during_g_step_is_bit_identical(baseline, tmp_path, monkeypatch):
    @contextlib.contextmanager
    def not_fixed(self, name):  # the old way: D keeps requires_grad, its weight gradients are computed
        yield self.nets[name]

    monkeypatch.setattr(StepContext, "fixed", not_fixed)
    _assert_identical(_run(tmp_path, "d-not-fixed"), baseline)


def test_foreach_optimizers_are_bit_identical(baseline, tmp_path, monkeypatch):
    monkeypatch.setattr(Optim, "build", lambda self, params: torch.optim.Adam(params, lr=self.lr, betas=self.betas,
                                                                            foreach=False))
    _assert_identical(_run(tmp_path, "for-loop-adam"), baseline)


def test_data_on_device_is_bit_identical(baseline, tmp_path):
    _assert_identical(_run(tmp_path, "on-device", data_on_device=True), baseline)


def test_d_weights_get_no_gradient_in_g_step():
    d = torch.nn.Linear(3, 1)
    ctx = StepContext({"netD": d}, {}, None, 0, None, contextlib.nullcontext)
    x = torch.randn(2, 3, requires_grad=True)
    with ctx.fixed("netD") as fixed:
        fixed(x).sum().backward()
    assert d.weight.grad is None and x.grad is not None  # G still gets its gradient through D
    assert d.weight.requires_grad  # restored after the block


def test_num_threads_is_stored_and_resume_keeps_it(tmp_path):
    seen = []
    before = torch.get_num_threads()
    every2 = {**SHORT, "checkpoint_every": 2}
    cfg = build_config("stackgan", "smoke", {**every2, "num_threads": 1})
    stop_at = {"n": 5}

    def hook(step, _):
        seen.append(torch.get_num_threads())
        if step == stop_at["n"]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run", progress=False, step_hook=hook)
    assert set(seen) == {1} and torch.get_num_threads() == before  # the caller's count is given back
    assert json.loads((tmp_path / "run" / "config.json").read_text())["num_threads"] == 1
    with pytest.raises(ConfigError, match="num_threads: stored 1, given 2"):
        train(build_config("stackgan", "smoke", {**every2, "num_threads": 2}), tmp_path / "run", resume=True,
              progress=False)
    stop_at["n"] = -1
    seen.clear()
    run = train(build_config("stackgan", "smoke", every2), tmp_path / "run", resume=True, progress=False,
                step_hook=hook)  # num_threads 0 (auto): the stored count is restored
    assert set(seen) == {1}
    assert json.loads((run / "checkpoints" / "final" / "config.json").read_text())["config"]["num_threads"] == 1


def test_fresh_runs_store_the_resolved_thread_count(tmp_path):
    run = train(build_config("stackgan", "smoke", SHORT), tmp_path / "run", progress=False)
    assert json.loads((run / "config.json").read_text())["num_threads"] == torch.get_num_threads() >= 1


def test_deferred_finite_check_stops_before_any_later_checkpoint(tmp_path, monkeypatch):
    """finite_check='log' (the GPU default: no host sync in the step) still stops a NaN run, at the next
    log or checkpoint step, and never writes a checkpoint after the NaN."""
    real = losses.g_loss_nonsaturating
    calls = {"n": 0}

    def poisoned(logits):
        calls["n"] += 1
        return real(logits) * (float("nan") if calls["n"] >= 4 else 1.0)

    monkeypatch.setattr(losses, "g_loss_nonsaturating", poisoned)
    cfg = build_config("stackgan", "smoke", {**SHORT, "finite_check": "log", "log_every": 3, "checkpoint_every": 2})
    with pytest.raises(NonFiniteLossError, match=r"loss_g became nan at or before step 4 \(checked at log"):
        train(cfg, tmp_path / "run", progress=False)
    steps = sorted(int(p.name.split("_")[1]) for p in (tmp_path / "run" / "checkpoints").glob("step_*"))
    assert steps == [2]


def test_channels_last_runs_on_cpu(tmp_path):
    logged, weights = _run(tmp_path, "cl", channels_last=True)
    assert all(torch.isfinite(torch.tensor(r["loss_g"])) for r in logged) and weights

"""The one training loop: phases, config, checkpoints, exact resume, non-finite losses, DDP."""
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import Dataset

import core.checkpoint as ckpt_mod
from core import losses
from core.checkpoint import find_checkpoint, list_checkpoints, write_checkpoint
from core.config import ConfigError
from core.data import register
from core.models import DataInfo, ModelSpec, Optim, Phase, register_model
from core.resolve import build_config, load_config
from core.train import NonFiniteLossError, batch_indices, main, train

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- a toy dataset and a two-phase toy model

class ToyDataset(Dataset):
    def __init__(self, n: int, res: int):
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 3, res, res, generator=g) * 2 - 1
        self.labels = [i % 4 for i in range(n)]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"image": self.x[i], "label": self.labels[i]}

    def all_captions(self):
        return [[f"thing number {l}", f"object of kind {l}"] for l in self.labels]


@register("toy")
def _toy(split, resolution, root, seed, size=None):
    return ToyDataset(size or 32, resolution)


@dataclass(frozen=True)
class TwoPhaseConfig:
    steps_a: int = 3
    steps_b: int = 3


class TwoNets(nn.Module):
    def __init__(self, cfg, info):
        super().__init__()
        self.netA = nn.Sequential(nn.Linear(info.embed_dim, 8), nn.BatchNorm1d(8))
        self.netB = nn.Linear(8, 1)


def _two_step(batch, ctx):
    h = ctx.nets["netA"](batch["text"])
    ctx.update("g", ctx.nets["netB"](h).pow(2).mean())


register_model(ModelSpec(
    name="toy-two-phase", config_cls=TwoPhaseConfig, presets={"smoke": {"batch_size": 8}},
    build=TwoNets,
    phases=lambda c: [Phase("a", c.model.steps_a, {"g": Optim(("netA", "netB"), lr=1e-3)}),
                      Phase("b", c.model.steps_b, {"g": Optim(("netB",), lr=1e-3)})],
    train_step=_two_step,
    generate=lambda m, c, n: {"image": m.netB(m.netA(c["text"]))},
    noise_shapes=lambda c: {},
    conditions=("text",),
))


def smoke_cfg(model="gan-int-cls", **overrides):
    return build_config(model, "smoke", overrides, dataset="toy", text_encoder="hash")


# ---------------------------------------------------------------- phases

def test_frozen_modules_get_no_updates(tmp_path):
    cfg = smoke_cfg("toy-two-phase", checkpoint_every=100, sample_every=100)
    run = train(cfg, tmp_path / "run", progress=False)
    a = load_file(str(run / "checkpoints" / "phase-a" / "model.safetensors"))
    final = load_file(str(run / "checkpoints" / "final" / "model.safetensors"))
    for k in a:
        if k.startswith("netA"):  # frozen in phase b: weights AND BN running stats unchanged
            torch.testing.assert_close(final[k], a[k], rtol=0, atol=0)
    assert not torch.equal(final["netB.weight"], a["netB.weight"])  # netB kept learning


# ---------------------------------------------------------------- config

def test_config_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown config key 'not_a_field'"):
        build_config("gan-int-cls", "smoke", {"not_a_field": 1})
    with pytest.raises(ConfigError, match="model.ngff"):
        build_config("gan-int-cls", "smoke", {"model.ngff": 1})
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config({**smoke_cfg().to_dict(), "typo": 3})
    with pytest.raises(ConfigError, match="unknown preset"):
        build_config("gan-int-cls", "huge")
    with pytest.raises(ConfigError, match="chosen by name"):
        build_config("gan-int-cls", "smoke", {"model_name": "stackgan"})
    with pytest.raises(ConfigError, match="unknown model"):
        build_config("no-such-gan", "smoke")


def test_config_roundtrip_and_cli_dry_run(capsys):
    cfg = build_config("gan-int-cls", "quick", {"model.ngf": 48, "batch_size": 16})
    assert load_config(json.loads(cfg.to_json())) == cfg
    assert cfg.model.ngf == 48 and cfg.batch_size == 16 and cfg.preset == "quick"
    assert main(["--model", "gan-int-cls", "--preset", "smoke", "--set", "model.ndf=12", "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["model"]["ndf"] == 12
    assert main(["--model", "gan-int-cls", "--preset", "smoke", "--set", "bogus=1", "--dry-run"]) == 2


# ---------------------------------------------------------------- checkpoints

def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    model = nn.Linear(3, 2)
    target = tmp_path / "ckpts" / "step_0000001"
    write_checkpoint(target, model, {"step": 1})
    before = (target / "model.safetensors").read_bytes()

    def broken_save(state, path):
        Path(path).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod, "save_file", broken_save)
    with torch.no_grad():
        model.weight.add_(1)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(target, model, {"step": 2})
    assert (target / "model.safetensors").read_bytes() == before       # old checkpoint untouched
    assert json.loads((target / "config.json").read_text())["step"] == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["step_0000001"]  # no temp dir left behind


def test_run_directory_is_never_overwritten(tmp_path):
    cfg = smoke_cfg(**{"model.steps": 2})
    run = train(cfg, tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="already exists"):
        train(cfg, run, progress=False)


def test_keeps_last_checkpoints_and_milestones(tmp_path):
    cfg = smoke_cfg(**{"model.steps": 10, "checkpoint_every": 1, "keep_last": 2})
    run = train(cfg, tmp_path / "run", progress=False)
    names = sorted(p.name for _, p in list_checkpoints(run))
    assert names == ["final", "phase-main", "step_0000009", "step_0000010"] or \
        names == ["final", "step_0000009", "step_0000010"]
    assert find_checkpoint(run).name == "final"
    state = torch.load(run / "checkpoints" / "final" / "training_state.pt", weights_only=True)
    assert state["step"] == 10


# ---------------------------------------------------------------- data order

def test_batch_order_is_a_function_of_step():
    a = [batch_indices(s, 50, 8, seed=3) for s in range(12)]
    b = [batch_indices(s, 50, 8, seed=3) for s in range(12)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    epoch0 = torch.cat(a[:6])
    assert epoch0.unique().numel() == 48  # no repeats within an epoch
    assert not torch.equal(a[0], a[6])    # a new permutation next epoch
    r0, r1 = batch_indices(0, 50, 8, 3, rank=0, world=2), batch_indices(0, 50, 8, 3, rank=1, world=2)
    assert not set(r0.tolist()) & set(r1.tolist())


# ---------------------------------------------------------------- non-finite losses

def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = smoke_cfg(**{"model.steps": 8, "checkpoint_every": 2})
    real = losses.g_loss_nonsaturating
    calls = {"n": 0}

    def poisoned(logits):
        calls["n"] += 1
        return real(logits) * (float("nan") if calls["n"] >= 5 else 1.0)  # G step of step 5 (interp off in count)

    monkeypatch.setattr(losses, "g_loss_nonsaturating", poisoned)
    with pytest.raises(NonFiniteLossError, match="loss_g became nan"):
        train(cfg, tmp_path / "run", progress=False)
    found = list_checkpoints(tmp_path / "run")
    assert found and found[-1][0] < 5
    weights = load_file(str(found[-1][1] / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


# ---------------------------------------------------------------- exact resume after SIGKILL

KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
import test_train  # registers the toy dataset
from core.resolve import build_config
from core.train import train
cfg = build_config("gan-int-cls", "smoke", {{"model.steps": 10, "checkpoint_every": 3}}, dataset="toy", text_encoder="hash")
kill_at = int(sys.argv[2])
def hook(step, losses):
    if step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
train(cfg, sys.argv[1], resume=len(sys.argv) > 3, progress=False, step_hook=hook)
"""


def _run_script(*args):
    code = KILL_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=900)


def test_resume_after_sigkill_is_bit_exact(tmp_path):
    full = _run_script(tmp_path / "full", -1)
    assert full.returncode == 0, full.stderr
    killed = _run_script(tmp_path / "killed", 7)
    assert killed.returncode == -9  # SIGKILL at step 7, after the step-6 checkpoint
    assert list_checkpoints(tmp_path / "killed")[-1][0] == 6
    resumed = _run_script(tmp_path / "killed", -1, "resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(str(tmp_path / "full" / "checkpoints" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "checkpoints" / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    la = [json.loads(l) for l in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    lb = [json.loads(l) for l in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert [r.get("loss_g") for r in la if "loss_g" in r] == [r.get("loss_g") for r in lb if "loss_g" in r]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("checkpoint_every, stop_at", [(3, 4), (1, 5)])
def test_resume_at_a_phase_boundary_and_inside_a_phase_is_bit_exact(tmp_path, checkpoint_every, stop_at):
    """Stopped after the phase-a checkpoint (step 3: phase b starts with fresh optimizers, not phase a's
    states) or inside phase b (step 4: its optimizer states are restored), a resumed run ends as a straight one."""
    cfg = smoke_cfg("toy-two-phase", checkpoint_every=checkpoint_every, sample_every=100)
    straight = train(cfg, tmp_path / "straight", progress=False)

    def stop(step, losses):
        if step == stop_at:
            raise _Stop

    with pytest.raises(_Stop):
        train(cfg, tmp_path / "stopped", progress=False, step_hook=stop)
    assert list_checkpoints(tmp_path / "stopped")[-1][0] == stop_at - 1
    resumed = train(cfg, tmp_path / "stopped", resume=True, progress=False)
    a = load_file(str(straight / "checkpoints" / "final" / "model.safetensors"))
    b = load_file(str(resumed / "checkpoints" / "final" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    sa = torch.load(straight / "checkpoints" / "final" / "training_state.pt", weights_only=False)
    sb = torch.load(resumed / "checkpoints" / "final" / "training_state.pt", weights_only=False)
    for k, v in sa["optimizers"]["g"]["state"].items():
        assert all(torch.equal(v[n], sb["optimizers"]["g"]["state"][k][n]) for n in v)


def test_no_function_of_the_loop_is_longer_than_80_lines():
    import ast

    tree = ast.parse((ROOT / "core" / "train.py").read_text())
    long = {n.name: n.end_lineno - n.lineno + 1 for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 80}
    assert not long, long


# ---------------------------------------------------------------- learning-rate schedule (LambdaLR)

# the reference Adam warm-up of S²-GAN (lr/50 for 10 steps, lr/5 until 30), halved every 20 phase steps on top
WARM = ((10, 1 / 50), (30, 1 / 5))
SEEN: dict = {}  # (phase, phase step) -> {role: [each param group's rate as the optimizer holds it in the step]}


def _schedule_step(batch, ctx):
    SEEN[(ctx.phase.name, ctx.step)] = {r: [g["lr"] for g in o.param_groups] for r, o in ctx.optimizers.items()}
    h = ctx.nets["netA"](batch["text"])
    ctx.update("g", ctx.nets["netB"](h).pow(2).mean())
    if "d" in ctx.optimizers and ctx.step >= 12 and ctx.step % 2 == 0:  # skipped updates, like the margin rule's
        ctx.update("d", ctx.nets["netB"](h.detach()).abs().mean())


register_model(ModelSpec(
    name="toy-schedule", config_cls=TwoPhaseConfig, presets={"smoke": {"batch_size": 8}},
    build=TwoNets,
    phases=lambda c: [
        Phase("a", c.model.steps_a, {
            "g": Optim(("netA",), lr=2e-4, warmup_factors=WARM, decay_every=20, lr_scale=(("netA.0.", 10.0),)),
            "d": Optim(("netB",), lr=1e-3, warmup_factors=WARM, decay_every=20)}),
        Phase("b", c.model.steps_b, {"g": Optim(("netB",), lr=1e-3, warmup_factors=((2, 0.5),))})],
    train_step=_schedule_step,
    generate=lambda m, c, n: {"image": m.netB(m.netA(c["text"]))},
    noise_shapes=lambda c: {},
    conditions=("text",),
))

# phase a's factor by phase step (from 0; the 1-based steps 1-10 are lr/50, 11-20 lr/5, 21-30 lr/10, ...)
PHASE_A = [(range(0, 10), 1 / 50), (range(10, 20), 1 / 5), (range(20, 30), 1 / 10), (range(30, 40), 1 / 2),
           (range(40, 45), 1 / 4)]


def _schedule_cfg(**overrides):
    return smoke_cfg("toy-schedule", **{"model.steps_a": 45, "model.steps_b": 4, "log_every": 1,
                                        "sample_every": 1000, "checkpoint_every": 1000, **overrides})


def test_the_optimizers_see_the_declared_schedule_counted_in_phase_steps(tmp_path):
    """Warm-up and decay from each phase's start, skipped updates counted, ``lr_scale`` applied per group."""
    SEEN.clear()
    run = train(_schedule_cfg(), tmp_path / "run", progress=False)
    for steps, f in PHASE_A:
        for t in steps:
            seen = SEEN[("a", t)]
            assert seen["g"] == pytest.approx([2e-4 * 10 * f, 2e-4 * f], rel=1e-12), t  # netA.0 at 10×, netA.1
            assert seen["d"] == pytest.approx([1e-3 * f], rel=1e-12), t  # d steps first at t = 12: still lr/5
    assert [SEEN[("b", t)]["g"] for t in range(4)] == [[5e-4], [5e-4], [1e-3], [1e-3]]  # phase b starts afresh
    log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if '"event"' not in l]
    assert [r["lr_d"] for r in log[:45]] == pytest.approx([1e-3 * f for steps, f in PHASE_A for _ in steps],
                                                          rel=1e-12)
    assert [r["lr_g"] for r in log[45:]] == [5e-4, 5e-4, 1e-3, 1e-3] and all("lr_d" not in r for r in log[45:])


@pytest.mark.parametrize("stop_at, last", [(12, 10), (47, 45)])
def test_resume_rebuilds_the_schedule_from_the_step(tmp_path, stop_at, last):
    """Resumed inside the warm-up (phase step 10, where lr/50 turns lr/5) or at phase b's start, the optimizers
    see the rates of a straight run, bit for bit, even when the checkpoint's param groups hold other rates."""
    cfg = _schedule_cfg(checkpoint_every=5)
    SEEN.clear()
    straight = train(cfg, tmp_path / "straight", progress=False)
    expected = dict(SEEN)

    def stop(step, losses):
        if step == stop_at:
            raise _Stop

    with pytest.raises(_Stop):
        train(cfg, tmp_path / "stopped", progress=False, step_hook=stop)
    assert list_checkpoints(tmp_path / "stopped")[-1][0] == last
    state_path = list_checkpoints(tmp_path / "stopped")[-1][1] / "training_state.pt"
    state = torch.load(state_path, weights_only=False)
    for opt_state in state["optimizers"].values():
        for g in opt_state["param_groups"]:
            g["lr"] = 1.0  # nothing to rely on: the schedule must come from the step counter
            g.pop("initial_lr", None)
    torch.save(state, state_path)
    SEEN.clear()
    resumed = train(cfg, tmp_path / "stopped", resume=True, progress=False)
    assert SEEN and all(SEEN[k] == expected[k] for k in SEEN)
    assert min(t + (45 if ph == "b" else 0) for ph, t in SEEN) == last
    a = load_file(str(straight / "checkpoints" / "final" / "model.safetensors"))
    b = load_file(str(resumed / "checkpoints" / "final" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _interesting_steps(opt: Optim, steps: int) -> list[int]:
    """The first 32 phase steps, the last, and both sides of every warm-up end and of the first decays."""
    edges = {u for u, _ in opt.warmup_factors} | {opt.warmup_steps, steps}
    edges |= {k * opt.decay_every for k in range(1, 4)}
    return sorted(t for t in set(range(32)) | {e + d for e in edges for d in (-1, 0)} if 0 <= t < steps)


def test_every_preset_gets_its_declared_rates_to_the_bit():
    """``LambdaLR``'s ``(lr · lr_scale) · factor`` equals the declared ``Optim.lr_at(t) · lr_scale`` exactly in
    every preset of every built-in model (the smoke logs and every run stay bit-identical)."""
    from core.config import PRESETS
    from core.models import available_models, get_model_spec
    from core.train import _rates, _schedulers

    checked = 0
    for name in available_models(builtin_only=True):
        spec = get_model_spec(name)
        for preset in PRESETS:
            for dataset in {None} | set(spec.dataset_presets.get(preset, {})):
                cfg = build_config(name, preset, **({"dataset": dataset} if dataset else {}))
                for phase in spec.phases(cfg):
                    for role, o in phase.optimize.items():
                        named = [(f"{p}w", nn.Parameter(torch.zeros(1))) for p, _ in o.lr_scale] + \
                                [("other.w", nn.Parameter(torch.zeros(1)))]
                        opt = o.build(named)
                        for t in _interesting_steps(o, phase.steps):
                            scheds = _schedulers({role: opt}, phase, t)
                            assert [g["lr"] for g in opt.param_groups] == \
                                   [o.lr_at(t) * g["lr_scale"] for g in opt.param_groups], (name, preset, role, t)
                            assert _rates(scheds, phase) == {f"lr_{role}": o.lr_at(t)}
                            checked += 1
    assert checked > 1000


# ---------------------------------------------------------------- DDP

def test_two_process_ddp_smoke(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "core.train", "--model", "gan-int-cls", "--preset", "smoke", "--no-progress",
           "--out", str(tmp_path / "ddp")]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    done = [json.loads(l) for l in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()][-1]
    assert done["event"] == "done" and done["world_size"] == 2
    assert (tmp_path / "ddp" / "checkpoints" / "final" / "model.safetensors").is_file()
    state = torch.load(tmp_path / "ddp" / "checkpoints" / "final" / "training_state.pt", weights_only=True)
    assert len(state["rng"]) == 2  # one RNG state per rank
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])  # rank-offset seeds

"""The core serves every kind of condition (issue #12).

Three toy models are defined *only here* and registered from the test: a label-conditioned one
(with two noises and a frozen network loaded from another model's checkpoint), an unconditional
one, and a structure-conditioned one. They train through ``core.train`` (two phases with their own
optimizers), resume bit-exactly, generate through ``core.pipeline.Pipeline`` and are scored by
``core.metrics.evaluate`` — with no edit to core files for their sake.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from core import losses
from core.checkpoint import parse_frozen
from core.config import ConfigError
from core.metrics import evaluate
from core.models import ModelSpec, Optim, Phase, register_model, seeded_noise
from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import train

RES = 16


def smoke_preset(**fields) -> dict:
    """The toy models' ``smoke`` preset: 64 mnist5k digits at 16 px, checkpoints every 2 steps."""
    return {"smoke": {"batch_size": 8, "resolution": RES, "dataset": "mnist5k", "dataset_size": 64,
                      "log_every": 1, "sample_every": 100, "checkpoint_every": 2, **fields}}


# ------------------------------------------------------------------------------------ toy networks

class ToyD(nn.Module):
    """image [B, C, 16, 16] (optionally ‖ a structure map) → logits [B]."""

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(channels, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
                                 nn.Linear(8 * (RES // 2) ** 2, 1))

    def forward(self, x):
        return self.net(x).flatten()


class ToyG(nn.Module):
    """code [B, K] → image [B, C, 16, 16] in [-1, 1]."""

    def __init__(self, k: int, channels: int):
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(nn.Linear(k, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, channels * RES * RES))

    def forward(self, code):
        return torch.tanh(self.net(code)).view(-1, self.channels, RES, RES)


@dataclass(frozen=True)
class ToyConfig:
    steps_a: int = 4
    steps_b: int = 2
    z_dim: int = 6


def _adv_step(ctx, real, fake, d_in=lambda x: x):
    """One D update (non-saturating GAN loss); returns G's adversarial loss on ``fake``."""
    D = ctx.nets["netD"]
    s_r, s_f = D(d_in(real)), D(d_in(fake.detach()))
    ctx.update("d", nn.functional.softplus(-s_r).mean() + nn.functional.softplus(s_f).mean())
    return losses.g_loss_nonsaturating(D(d_in(fake)))


# -- unconditional: netG, netD; phase "warm" (Adam, G and D), phase "tune" (RMSprop with warm-up, G only)
class UncondNets(nn.Module):
    def __init__(self, cfg: ToyConfig, info):
        super().__init__()
        self.netG = ToyG(cfg.z_dim, info.channels)
        self.netD = ToyD(info.channels)


def _uncond_step(batch, ctx):
    z = torch.randn(batch["image"].shape[0], ctx.cfg.model.z_dim)
    fake = ctx.nets["netG"](z)
    if "d" in ctx.optimizers:
        ctx.update("g", _adv_step(ctx, batch["image"], fake))
    else:  # tune: G alone against the frozen D
        ctx.update("g", nn.functional.softplus(-ctx.nets["netD"](fake)).mean())


register_model(ModelSpec(
    name="toy-uncond", config_cls=ToyConfig,
    presets=smoke_preset(),
    build=UncondNets,
    phases=lambda run: [
        Phase("warm", run.model.steps_a, {"g": Optim(("netG",), lr=1e-3), "d": Optim(("netD",), lr=2e-3)}),
        Phase("tune", run.model.steps_b, {"g": Optim(("netG",), lr=5e-4, kind="rmsprop", warmup_steps=2)}),
    ],
    train_step=_uncond_step,
    generate=lambda m, c, nz: {"image": m.netG(nz["z"])},
    noise_shapes=lambda cfg: {"z": (cfg.z_dim,)},
    conditions="none",
))


# -- label-conditioned, two noises (z1: the "class" level, z0: the image level), and netE: a frozen
#    network loaded from another checkpoint (here the unconditional model's discriminator)
class LabelNets(nn.Module):
    def __init__(self, cfg: ToyConfig, info):
        super().__init__()
        self.embed = nn.Embedding(info.num_classes, 4)
        self.netG = ToyG(4 + 2 * cfg.z_dim, info.channels)
        self.netD = ToyD(info.channels + 1)
        self.netE = ToyD(info.channels)


def _label_input(image, label):
    return torch.cat([image, (label.float() / 10)[:, None, None, None].expand(-1, 1, RES, RES)], 1)


def _label_code(model_or_nets, label, z1, z0):
    embed = model_or_nets["embed"] if isinstance(model_or_nets, dict) else model_or_nets.embed
    return torch.cat([embed(label), z1, z0], 1)


def _label_step(batch, ctx):
    cfg = ctx.cfg.model
    B, y = batch["image"].shape[0], batch["label"]
    z1, z0 = torch.randn(B, cfg.z_dim), torch.randn(B, cfg.z_dim)
    fake = ctx.nets["netG"](_label_code(ctx.nets, y, z1, z0))
    if "d" in ctx.optimizers:
        adv = _adv_step(ctx, batch["image"], fake, lambda x: _label_input(x, y))
    else:
        adv = nn.functional.softplus(-ctx.nets["netD"](_label_input(fake, y))).mean()
    # a "conditional loss" through the frozen netE
    cond = (ctx.nets["netE"](fake) - ctx.nets["netE"](batch["image"])).pow(2).mean()
    ctx.update("g", adv + 0.1 * cond, cond=cond)


register_model(ModelSpec(
    name="toy-label", config_cls=ToyConfig,
    presets=smoke_preset(sample_every=2),  # sample grids of a label model too
    build=LabelNets,
    phases=lambda run: [
        Phase("joint", run.model.steps_a, {"g": Optim(("embed", "netG"), lr=1e-3),
                                           "d": Optim(("netD",), lr=1e-3, betas=(0.0, 0.9))}),
        Phase("g-only", run.model.steps_b, {"g": Optim(("netG",), lr=1e-4, kind="sgd", momentum=0.5,
                                                       decay_every=1, decay=0.5)}),
    ],
    train_step=_label_step,
    generate=lambda m, c, nz: {"image": m.netG(_label_code(m, c["label"], nz["z1"], nz["z0"]))},
    noise_shapes=lambda cfg: {"z1": (cfg.z_dim,), "z0": (cfg.z_dim,)},
    conditions=("label",),
    pretrained=lambda cfg: ("netE",),
))


# -- structure-conditioned: (normals ‖ z) → image; D on (image ‖ normals)
class StructureNets(nn.Module):
    def __init__(self, cfg: ToyConfig, info):
        super().__init__()
        self.netG = nn.Sequential(nn.Conv2d(info.structure_channels + 1, info.channels, 3, 1, 1), nn.Tanh())
        self.netD = ToyD(info.channels + info.structure_channels)


def _structure_image(netG, structure, z):
    return netG(torch.cat([structure, z[:, :1, None, None].expand(-1, 1, *structure.shape[-2:])], 1))


def _structure_step(batch, ctx):
    s = batch["structure"]
    fake = _structure_image(ctx.nets["netG"], s, torch.randn(s.shape[0], ctx.cfg.model.z_dim))
    ctx.update("g", _adv_step(ctx, batch["image"], fake, lambda x: torch.cat([x, s], 1)))


register_model(ModelSpec(
    name="toy-structure", config_cls=ToyConfig,
    presets=smoke_preset(batch_size=2, dataset="shapes", dataset_size=16, checkpoint_every=100),
    build=StructureNets,
    phases=lambda run: [Phase("main", run.model.steps_a, {"g": Optim(("netG",), lr=1e-3),
                                                          "d": Optim(("netD",), lr=1e-3)})],
    train_step=_structure_step,
    generate=lambda m, c, nz: {"image": _structure_image(m.netG, c["structure"], nz["z"])},
    noise_shapes=lambda cfg: {"z": (cfg.z_dim,)},
    conditions="structure",
))


# ------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("conditions")
    uncond = train(build_config("toy-uncond", "smoke"), root / "uncond", progress=False)
    label = train(build_config("toy-label", "smoke", {"frozen": [f"netE={uncond}:netD"]}), root / "label",
                  progress=False)
    return {"root": root, "uncond": uncond, "label": label}


# ------------------------------------------------------------------------------------ training

def test_phases_declare_their_own_optimizers(runs):
    """Each phase's optimizer kind and schedule is what the model declared (none keyed to a role name)."""
    log = [json.loads(l) for l in (runs["uncond"] / "log.jsonl").read_text().splitlines() if '"event"' not in l]
    warm = [r for r in log if r["phase"] == "warm"]
    tune = [r for r in log if r["phase"] == "tune"]
    assert [r["lr_g"] for r in warm] == [1e-3] * 4 and [r["lr_d"] for r in warm] == [2e-3] * 4
    assert [r["lr_g"] for r in tune] == [2.5e-4, 5e-4]  # warm-up over 2 steps, counted from the phase's start
    assert all("lr_d" not in r for r in tune)
    lab = [json.loads(l) for l in (runs["label"] / "log.jsonl").read_text().splitlines() if '"event"' not in l]
    assert [r["lr_g"] for r in lab if r["phase"] == "g-only"] == [1e-4, 5e-5]  # halved every phase step
    state = torch.load(runs["label"] / "checkpoints" / "final" / "training_state.pt", weights_only=True)
    assert state["optimizers"]["g"]["param_groups"][0]["momentum"] == 0.5  # SGD with momentum, as declared


def test_frozen_network_is_loaded_from_another_checkpoint_and_never_changes(runs):
    donor = load_file(str(runs["uncond"] / "checkpoints" / "final" / "model.safetensors"))
    for ckpt in ("phase-joint", "final"):
        got = load_file(str(runs["label"] / "checkpoints" / ckpt / "model.safetensors"))
        for k, v in donor.items():
            if k.startswith("netD."):
                assert torch.equal(got["netE." + k[len("netD."):]], v), k
    cfg = json.loads((runs["label"] / "config.json").read_text())
    assert cfg["frozen"] == [f"netE={runs['uncond']}:netD"]  # recorded; the checkpoint still rebuilds alone
    pipe = Pipeline.from_checkpoint(runs["label"])  # no access to the donor needed
    assert pipe.conditions == ("label",)


def test_a_model_needing_a_pretrained_network_says_how_to_give_it(tmp_path):
    with pytest.raises(ConfigError, match=r"needs pretrained, frozen sub-network\(s\) \['netE'\].*frozen="):
        train(build_config("toy-label", "smoke"), tmp_path / "run", progress=False)
    donor = train(build_config("toy-uncond", "smoke", {"model.steps_a": 2, "model.steps_b": 0}), tmp_path / "d",
                  progress=False)
    with pytest.raises(ConfigError, match=r"has no sub-network 'nope'; it has \['netD', 'netG'\]"):
        train(build_config("toy-label", "smoke", {"frozen": [f"netE={donor}:nope"]}), tmp_path / "r2", progress=False)
    with pytest.raises(ConfigError, match="does not fit this model's 'netE'"):  # netG is not a ToyD
        train(build_config("toy-label", "smoke", {"frozen": [f"netE={donor}:netG"]}), tmp_path / "r3", progress=False)
    with pytest.raises(ConfigError, match=r"phase 'joint' trains \['netG'\], which cfg.frozen loads as frozen"):
        train(build_config("toy-label", "smoke", {"frozen": [f"netE={donor}:netD", f"netG={donor}"]}),
              tmp_path / "r4", progress=False)


def test_parse_frozen_entries():
    assert parse_frozen("netE=runs/enc") == ("netE", "runs/enc", "netE")
    assert parse_frozen("netE=runs/enc:net") == ("netE", "runs/enc", "net")
    assert parse_frozen("netE=/a/b:c/d") == ("netE", "/a/b:c/d", "netE")  # ':' inside the path
    with pytest.raises(ValueError, match="expected 'name=checkpoint'"):
        parse_frozen("netE")


@pytest.mark.parametrize("model", ["toy-uncond", "toy-label"])
def test_resume_is_bit_exact(runs, tmp_path, model):
    """Stopped after step 3 (checkpoint at step 2) and resumed: the same final weights and losses."""
    overrides = {"frozen": [f"netE={runs['uncond']}:netD"]} if model == "toy-label" else {}
    cfg = build_config(model, "smoke", overrides)
    full = train(cfg, tmp_path / "full", progress=False)

    class Stop(Exception):
        pass

    def stop_at_3(step, losses):
        if step == 3:
            raise Stop

    with pytest.raises(Stop):
        train(cfg, tmp_path / "cut", progress=False, step_hook=stop_at_3)
    train(cfg, tmp_path / "cut", resume=True, progress=False)
    a = load_file(str(full / "checkpoints" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "checkpoints" / "final" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    la, lb = ([json.loads(l).get("loss_g") for l in (d / "log.jsonl").read_text().splitlines()]
              for d in (full, tmp_path / "cut"))
    assert la == lb


def test_resume_refuses_a_different_config(runs, tmp_path):
    cfg = build_config("toy-uncond", "smoke")
    train(cfg, tmp_path / "run", progress=False, step_hook=None)
    other = build_config("toy-uncond", "smoke", {"model.z_dim": 7, "batch_size": 4})
    with pytest.raises(ConfigError, match=r"another config \(batch_size: stored 8, given 4; model.z_dim: stored 6"):
        train(other, tmp_path / "run", resume=True, progress=False)
    train(build_config("toy-uncond", "smoke", {"device": "cpu"}), tmp_path / "run", resume=True, progress=False)


def test_structure_model_trains_on_shapes_normals(tmp_path):
    run = train(build_config("toy-structure", "smoke"), tmp_path / "s", progress=False)
    pipe = Pipeline.from_checkpoint(run)
    assert pipe.conditions == ("structure",) and pipe.info.structure_channels == 3
    normals = torch.zeros(2, 3, RES, RES)
    normals[:, 2] = 1
    out = pipe.generate(structure=normals, seeds=[0, 1])["image"]
    assert out.shape == (2, 3, RES, RES)
    with pytest.raises(ValueError, match=r"conditioned on structure: pass structure="):
        pipe.generate(["a caption"], seeds=[0])


def test_a_dataset_without_the_condition_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"conditioned on \['structure'\], but mnist5k provides \['text', 'label'\]"):
        train(build_config("toy-structure", "smoke", {"dataset": "mnist5k"}), tmp_path / "r", progress=False)


# ------------------------------------------------------------------------------------ inference

def test_pipeline_label_model_and_per_noise_seeds(runs):
    pipe = Pipeline.from_checkpoint(runs["label"])
    a = pipe.generate(labels=[3, 3, 3, 3], seeds=[5, 6, 7, 8])["image"]
    assert a.shape == (4, 1, RES, RES)
    torch.testing.assert_close(pipe.generate(labels=[3], seeds=[7])["image"], a[2:3], rtol=0, atol=1e-6)
    # fix z1, vary z0: one call
    fixed = pipe.generate(labels=[3] * 4, seeds={"z1": [0] * 4, "z0": [10, 11, 12, 13]})["image"]
    alone = pipe.generate(labels=[3], seeds={"z1": [0], "z0": [12]})["image"]
    torch.testing.assert_close(fixed[2:3], alone, rtol=0, atol=1e-6)
    assert (fixed[0] - fixed[1]).abs().max() > 1e-4
    # a per-name dict with the same seeds everywhere is the plain list
    torch.testing.assert_close(pipe.generate(labels=[3], seeds={"z1": [7], "z0": [7]})["image"], a[2:3],
                               rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="conditioned on label: pass labels="):
        pipe.generate(["a digit"], seeds=[0])
    with pytest.raises(ValueError, match="conditioned on label: pass labels="):
        pipe.generate(n=2)
    with pytest.raises(ValueError, match=r"labels must lie in 0..9"):
        pipe.generate(labels=[10], seeds=[0])


def test_seeded_noise_per_name_streams():
    shapes = {"z1": (3,), "z0": (2,)}
    flat = seeded_noise(shapes, [4, 5])
    mixed = seeded_noise(shapes, {"z1": [4, 4], "z0": [4, 5]})
    assert torch.equal(mixed["z1"][1], flat["z1"][0]) and torch.equal(mixed["z0"][1], flat["z0"][1])
    with pytest.raises(ValueError, match="unknown noise"):
        seeded_noise(shapes, {"zz": [1]})


def test_pipeline_unconditional_model(runs):
    pipe = Pipeline.from_checkpoint(runs["uncond"])
    assert pipe.conditions == ()
    four = pipe.generate(n=4, seeds=10)["image"]  # seeds 10..13
    assert four.shape == (4, 1, RES, RES)
    torch.testing.assert_close(pipe.generate(seeds=[12])["image"], four[2:3], rtol=0, atol=1e-6)
    assert pipe.generate(seeds=[1, 2, 3])["image"].shape[0] == 3
    with pytest.raises(ValueError, match="conditioned on nothing: pass no condition"):
        pipe.generate(["a caption"])
    with pytest.raises(ValueError, match="takes no label condition"):
        pipe.generate(labels=[1])


# ------------------------------------------------------------------------------------ evaluation

def test_evaluate_label_model(runs):
    s = evaluate(Pipeline.from_checkpoint(runs["label"]), metrics=["fid", "cond_acc", "diversity"], n=40,
                 diversity_k=4, cache=False)
    assert s.meta["conditions"] == ["label"] and s.meta["dataset"] == "mnist5k"
    assert 0.0 <= s["cond_acc"] <= 1.0 and s["fid"] > 0 and 0.0 <= s["diversity"] <= 2.0


def test_evaluate_unconditional_model(runs):
    pipe = Pipeline.from_checkpoint(runs["uncond"])
    s = evaluate(pipe, n=40, diversity_k=4, kid_subset_size=20, isc_splits=2, cache=False)
    assert "cond_acc" not in s and s.meta["conditions"] == [] and s["fid"] > 0 and s["diversity"] > 0
    from core.metrics import MetricsError

    with pytest.raises(MetricsError, match="compare each image with its text or label condition"):
        evaluate(pipe, metrics=["cond_acc"], n=10)

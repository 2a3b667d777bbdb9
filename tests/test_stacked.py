"""Stacked vs single GANs across layer types (Deshmukh, Franz & Tu; seed 003, issue #18): the networks of every
layer type, Stage-I frozen (stacked) or trained (full) during Stage-II, Stage-II without a latent, the table's
rows and a smoke train of every mode."""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from bench.tables.stacked import LAYERS, STAGE1_MODULES, TABLE, row_id
from core.errors import ConfigError
from core.models import DataInfo, StepContext, get_model_spec
from core.models.stacked import LAYER_OPTIM, StackedConfig, StackedGAN
from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import _make_optimizers, _set_phase, train

MODES = ("single", "stacked", "full")
SMOKE = DataInfo(channels=3, resolution=32)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


def _cfg(preset: str = "smoke", **changes) -> StackedConfig:
    return dataclasses.replace(build_config("stacked", preset).model, **changes)


def _of(module: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


# ------------------------------------------------------------------------------------------ networks

@pytest.mark.parametrize("layer", LAYERS)
def test_every_network_maps_the_shapes_of_its_stage(layer):
    z = torch.randn(4, 8)
    for mode in MODES:
        m = StackedGAN(_cfg(layer=layer, mode=mode), SMOKE).eval()
        low = 32 if mode == "single" else 16
        s1 = m.netG1(z)
        assert s1.shape == (4, 3, low, low) and s1.abs().max() <= 1  # tanh
        assert m.netD1(s1).shape == (4,)
        if mode == "single":
            assert not hasattr(m, "netG2") and not hasattr(m, "netD2")
        else:
            s2 = m.netG2(s1)
            assert s2.shape == (4, 3, 32, 32) and s2.abs().max() <= 1
            assert m.netD2(s2).shape == (4,)


def test_the_paper_preset_builds_the_papers_layers():
    """§3.3's shapes at ``paper`` widths (built at 16 → 32 px to stay small; the widths do not depend on R)."""
    paper = build_config("stacked", "paper")
    assert (paper.resolution, paper.dataset) == (128, "cub")
    # dense: G 256/512/1024, D 256/64 with dropout, LeakyReLU then BN in every hidden layer
    m = StackedGAN(_cfg("paper", layer="dense"), SMOKE)
    assert [l.out_features for l in _of(m.netG1, nn.Linear)] == [256, 512, 1024, 3 * 16 * 16]
    assert [l.in_features for l in _of(m.netG2, nn.Linear)][0] == 3 * 16 * 16  # the Stage-I image, flattened
    assert [l.out_features for l in _of(m.netD2, nn.Linear)] == [256, 64, 1]
    # the D's BN is the paper's only with dense_d_norm=batch: by default (chosen on val) it has none, as BN right
    # before the head is blind to a batch's mean (test_the_papers_dense_d_is_blind_...)
    assert len(_of(m.netD2, nn.Dropout)) == 2 and len(_of(m.netD2, nn.BatchNorm1d)) == 0
    paper_d = StackedGAN(_cfg("paper", layer="dense", dense_d_norm="batch"), SMOKE).netD2
    assert len(_of(paper_d, nn.BatchNorm1d)) == 2 and len(_of(paper_d, nn.Dropout)) == 2
    assert len(_of(m.netG1, nn.BatchNorm1d)) == 3 and len(_of(m.netG1, nn.LeakyReLU)) == 3
    seq = list(m.netG1.net)
    assert all(isinstance(a, nn.LeakyReLU) and isinstance(b, nn.BatchNorm1d) for a, b in zip(seq[1::3], seq[2::3]))
    # conv: five 3×3 stride-1 convs of 256 filters and one transposed conv that doubles the side
    m = StackedGAN(_cfg("paper", layer="conv"), SMOKE)
    for g in (m.netG1, m.netG2):
        convs, ups = _of(g, nn.Conv2d), _of(g, nn.ConvTranspose2d)
        assert [(c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [(256, (3, 3), (1, 1), (1, 1))] * 5
        assert len(ups) == 1 and ups[0].stride == (2, 2) and ups[0].out_channels == 3
    assert len(_of(m.netG1, nn.Linear)) == 1 and not _of(m.netG2, nn.Linear)
    # deep-conv: one FC, then transposed convs of 256, 128, 64, 3 filters, kernel 5, stride 2; LeakyReLU; tanh
    m = StackedGAN(_cfg("paper", layer="deepconv"), SMOKE)
    for g in (m.netG1, m.netG2):
        ups = _of(g, nn.ConvTranspose2d)
        assert [(u.out_channels, u.kernel_size, u.stride) for u in ups] == [(c, (5, 5), (2, 2)) for c in (256, 128, 64, 3)]
        assert _of(g, nn.LeakyReLU) and not _of(g, nn.ReLU) and isinstance(list(g.modules())[-1], nn.Tanh)
    assert len(_of(m.netG1, nn.Linear)) == 1 and not _of(m.netG2, nn.Linear)
    # the optimizer per layer type (the paper: Adam or RMSprop "depending on the layer composition")
    for layer in LAYERS:
        run = build_config("stacked", "paper", {"model.layer": layer})
        spec = get_model_spec("stacked")
        opts = [o for p in spec.phases(run) for o in p.optimize.values()]
        assert {o.kind for o in opts} == {LAYER_OPTIM[layer][0]} and {o.kind for o in opts} <= {"adam", "rmsprop"}


def test_bad_configs_and_resolutions_are_refused():
    with pytest.raises(ConfigError, match="layer"):
        _cfg(layer="resnet")
    with pytest.raises(ConfigError, match="mode"):
        _cfg(mode="progressive")
    with pytest.raises(ConfigError, match="multiple of 32"):
        StackedGAN(_cfg(layer="deepconv"), DataInfo(channels=3, resolution=48))
    StackedGAN(_cfg(layer="deepconv", mode="single"), DataInfo(channels=3, resolution=16))  # one stage: 16 suffices


# ------------------------------------------------------------------------------------------ Stage-II takes no latent

@pytest.mark.parametrize("layer", LAYERS)
def test_stage2_takes_no_latent(layer):
    spec = get_model_spec("stacked")
    for mode in MODES:
        assert spec.noise_shapes(_cfg(layer=layer, mode=mode)) == {"z": (8,)}  # one latent, Stage-I's
    m = StackedGAN(_cfg(layer=layer, mode="stacked"), SMOKE).eval()
    assert m.netG1.z_dim == 8 and m.netG2.z_dim == 0
    assert list(inspect.signature(m.netG2.forward).parameters) == ["x"]  # one input: the Stage-I image
    assert [l.in_features for l in _of(m.netG2, nn.Linear)][:1] in ([], [3 * 16 * 16])  # dense: the flat image
    with pytest.raises(RuntimeError):
        m.netG2(torch.randn(3, 8))  # a latent is not an input it accepts
    s1 = torch.rand(3, 3, 16, 16) * 2 - 1
    torch.manual_seed(1)
    a = m.netG2(s1)
    torch.manual_seed(2)
    assert torch.equal(a, m.netG2(s1))  # a function of the image alone: no hidden noise
    z = torch.randn(3, 8)
    out = spec.generate(m, {}, {"z": z})
    assert set(out) == {"stage1", "image"} and torch.equal(out["image"], m.netG2(out["stage1"]))
    assert torch.equal(out["stage1"], m.netG1(z))


# ------------------------------------------------------------------------------------------ gradients, by hand

@pytest.mark.parametrize("layer", LAYERS)
def test_one_stage2_step_reaches_stage1_only_in_full_mode(layer):
    """The loop's own phase set-up (frozen = no gradient, eval mode), then one stage2 step."""
    spec = get_model_spec("stacked")
    grads = {}
    for mode in ("stacked", "full"):
        run = build_config("stacked", "smoke", {"model.layer": layer, "model.mode": mode})
        torch.manual_seed(0)
        m = spec.build(run.model, SMOKE)
        phase = next(p for p in spec.phases(run) if p.name == "stage2")
        _set_phase(m, phase)
        nets = dict(m.named_children())
        before = {k: v.clone() for k, v in m.netG1.state_dict().items()}
        spec.train_step({"image": torch.rand(8, 3, 32, 32) * 2 - 1},
                        StepContext(nets, _make_optimizers(m, phase), phase, 0, run, contextlib.nullcontext))
        grads[mode] = [p.grad for p in m.netG1.parameters()]
        changed = [k for k, v in m.netG1.state_dict().items() if not torch.equal(v, before[k])]
        if mode == "stacked":
            assert not m.netG1.training and not changed  # neither weights nor BN statistics moved
        else:
            assert m.netG1.training and any("running_mean" in k for k in changed) and any("weight" in k for k in changed)
        assert all(p.grad is None for p in m.netD1.parameters())  # Stage-I's D sits out stage 2 in both modes
    assert all(g is None for g in grads["stacked"])
    assert all(g is not None for g in grads["full"]) and sum(float(g.abs().sum()) for g in grads["full"]) > 0


# ------------------------------------------------------------------------------------------ the table's rows

def test_each_row_differs_from_its_neighbour_in_exactly_its_switch():
    """Along the mode axis (single → stacked → full) only ``mode`` changes, once the stacked rows' Stage-I
    steps (trained in their shared parent) are counted; along the layer axis only ``layer`` changes."""
    rows = {r.id: r for r in TABLE.rows_for("quick")}
    assert set(rows) == {row_id(l, m) for l in LAYERS for m in MODES}

    def effective(rid):
        unit = rows[rid].unit
        cfg = build_config("stacked", "quick", unit.overrides)
        if unit.parent is not None:  # Stage-I trained in the parent: count its steps here
            parent = build_config("stacked", "quick", unit.parent.overrides)
            assert cfg.model.stage1_steps == 0 and parent.model.stage2_steps == 0
            assert unit.init_modules == STAGE1_MODULES == ("netG1", "netD1")
            # the parent is the layer type's single GAN at half the resolution, nothing else
            assert parent.resolution * 2 == cfg.resolution and parent.model.mode == "single"
            assert parent.model.layer == cfg.model.layer
            cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, stage1_steps=parent.model.stage1_steps))
        return cfg

    def diff(a, b):
        ca, cb = effective(a), effective(b)
        top = {f.name for f in dataclasses.fields(ca) if f.name != "model" and getattr(ca, f.name) != getattr(cb, f.name)}
        return top | {f"model.{f.name}" for f in dataclasses.fields(ca.model)
                      if getattr(ca.model, f.name) != getattr(cb.model, f.name)}

    for layer in LAYERS:
        assert diff(row_id(layer, "single"), row_id(layer, "stacked")) == {"model.mode"}
        assert diff(row_id(layer, "stacked"), row_id(layer, "full")) == {"model.mode"}
        # stacked and full start from the very same Stage-I unit (one training run per layer type and seed)
        assert rows[row_id(layer, "stacked")].unit.parent.key("quick", 0) == \
            rows[row_id(layer, "full")].unit.parent.key("quick", 0)
    for mode in MODES:
        assert diff(row_id("dense", mode), row_id("conv", mode)) == {"model.layer"}
        assert diff(row_id("conv", mode), row_id("deepconv", mode)) == {"model.layer"}
    parents = {rows[row_id(l, "stacked")].unit.parent.key("quick", 0) for l in LAYERS}
    assert len(parents) == 3  # one Stage-I per layer type
    for c in TABLE.claims:
        assert {c.better, *c.worse} <= set(rows) and c.why and c.metric == "fid"
    assert TABLE.metrics == ("fid", "kid", "prc") and TABLE.paper_metric == "fid"


# ------------------------------------------------------------------------------------------ smoke training

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stacked")
    out = {}
    for layer in LAYERS:
        for mode in MODES:
            cfg = build_config("stacked", "smoke", {"model.layer": layer, "model.mode": mode})
            out[layer, mode] = train(cfg, root / f"{layer}-{mode}", progress=False)
    return out


def _weights(run, name="final"):
    return load_file(str(run / "checkpoints" / name / "model.safetensors"))


def _log(run):
    return [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if '"event"' not in l]


def test_smoke_train_of_every_mode(runs):
    for (layer, mode), run in runs.items():
        phases = [r["phase"] for r in _log(run)]
        assert phases == (["single"] * 4 if mode == "single" else ["stage1"] * 2 + ["stage2"] * 2), (layer, mode)
        pipe = Pipeline.from_checkpoint(run)
        assert pipe.conditions == () and pipe.noise_names == ("z",)
        out = pipe.generate(seeds=[0, 1])
        assert torch.equal(out["image"], pipe.generate(seeds=[0, 1])["image"])
        assert out["image"].shape == (2, 3, 32, 32)
        if mode == "single":
            assert set(out) == {"image"}
        else:
            assert set(out) == {"stage1", "image"} and out["stage1"].shape == (2, 3, 16, 16)


@pytest.mark.parametrize("layer", LAYERS)
def test_stage1_is_frozen_in_stacked_mode_and_trained_in_full_mode(runs, layer):
    """Across the stage2 phase (the phase-stage1 checkpoint against the final one): stacked keeps every
    Stage-I tensor, weights and batch-norm statistics alike; full changes G1's; D1 sits out stage 2 in both."""
    for mode in ("stacked", "full"):
        before, after = _weights(runs[layer, mode], "phase-stage1"), _weights(runs[layer, mode])
        g1 = [k for k in before if k.startswith("netG1.")]
        assert any(k.endswith("running_mean") for k in g1) and any(k.endswith("running_var") for k in g1)
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        assert any(k.startswith("netG2.") for k in changed)  # stage 2 ran
        assert not any(k.startswith("netD1.") for k in changed)
        g1_changed = changed & set(g1)
        if mode == "stacked":
            assert not g1_changed, sorted(g1_changed)
        else:
            assert any(k.endswith("running_mean") for k in g1_changed)
            assert any(k.endswith("weight") and "running" not in k for k in g1_changed)


def test_a_stage2_row_starts_from_its_parents_stage1(runs, tmp_path):
    """The table's chain: Stage-I as a single GAN at R/2, then a Stage-II run with stage1_steps=0 initialised from
    it (init_from/init_modules); Stage-I ends the stacked run exactly as the parent left it."""
    parent = train(build_config("stacked", "smoke", {"resolution": 16, "model.layer": "conv", "model.mode": "single",
                                                     "model.stage2_steps": 0}), tmp_path / "parent", progress=False)
    child = train(build_config("stacked", "smoke", {"model.layer": "conv", "model.mode": "stacked",
                                                    "model.stage1_steps": 0},
                               init_from=str(parent), init_modules=STAGE1_MODULES), tmp_path / "child", progress=False)
    assert [r["phase"] for r in _log(child)] == ["stage2"] * 2
    p, c = _weights(parent), _weights(child)
    stage1 = [k for k in c if k.startswith(("netG1.", "netD1."))]
    assert stage1 and all(torch.equal(c[k], p[k]) for k in stage1)


def test_the_papers_dense_d_is_blind_to_the_batch_mean_and_the_other_norms_are_not():
    """Why the dense GANs drew static (docs/stacked.md): with BN right before the linear head and real and fake
    in separate D calls, a batch's mean logit is the same whatever the batch holds; LayerNorm or no norm see it."""
    from core.models.stacked import DenseDiscriminator

    torch.manual_seed(0)
    a = torch.rand(16, 3, 8, 8) * 2 - 1    # one batch
    b = torch.rand(16, 3, 8, 8) * 0.2 + 0.5  # a very different one
    for norm, blind in (("batch", True), ("layer", False), ("none", False)):
        d = DenseDiscriminator(3, 8, (32, 16), 0.0, norm).train()
        gap = float(d(a).mean() - d(b).mean())
        assert (abs(gap) < 1e-5) == blind, (norm, gap)


def test_dense_d_norm_is_checked():
    from core.config import ConfigError
    from core.models.stacked import StackedConfig

    with pytest.raises(ConfigError):
        StackedConfig(layer="dense", dense_d_norm="group")


def test_d_init_gives_every_layer_types_discriminator_a_signal():
    # the measured cause shared with S²-GAN (scripts/d_signal_at_init.py): under N(0, 0.02) these no-BN Ds'
    # logits barely spread across inputs at init; He-normal restores a spread near 1. Each D follows d_init.
    import dataclasses

    from core.errors import ConfigError
    from core.models.stacked import StackedConfig, make_discriminator
    x = torch.rand(32, 3, 16, 16) * 2 - 1
    for layer in ("dense", "conv", "deepconv"):
        cfg = StackedConfig(layer=layer, conv_width=16, conv_layers=2, dense_d=(32, 8), deepconv_widths=(32, 16))
        spread = {}
        for init in ("normal", "kaiming"):
            torch.manual_seed(0)
            spread[init] = float(make_discriminator(dataclasses.replace(cfg, d_init=init), 3, 16).eval()(x).std())
        assert spread["kaiming"] > 10 * spread["normal"], (layer, spread)
    with pytest.raises(ConfigError, match="d_init"):
        StackedConfig(d_init="xavier")

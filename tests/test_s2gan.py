"""S²-GAN (Wang & Gupta, ECCV 2016): networks, codebook, losses, the joint phase's gradient path, the
reference training rules, phases and the ablation rows (issue #17)."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bench.tables.s2gan import TABLE
from core.errors import ConfigError
from core.models import DataInfo, Optim, Phase, StepContext
from core.models.s2gan import (REFERENCE_WARMUP, S2GAN, NormalFCN, S2ganConfig, StructureGenerator, _d_update,
                               _train_step, feed_back, margin_rule, nearest_codeword, normal_codebook, normal_loss,
                               resize_normals, uniform_noise)
from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import train

SMOKE = DataInfo(channels=3, resolution=16)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv(cin, cout, k):
    return cin * cout * k * k + cout  # Torch convolutions keep their bias


def bn(c):
    return 2 * c


def unit_normals(b: int, side: int, seed: int = 0) -> torch.Tensor:
    """Random unit normals ``[b, 3, side, side]`` facing the viewer."""
    n = torch.randn(b, 3, side, side, generator=torch.Generator().manual_seed(seed))
    n[:, 2] = n[:, 2].abs() + 0.5
    return torch.nn.functional.normalize(n, dim=1)


# ------------------------------------------------------------------------------------------ networks

def test_paper_preset_networks_equal_the_reference_code_layer_by_layer():
    """structure-gan/train.lua and style-gan-nofcn/train.lua at n = 64, z 100, 72² and 128²."""
    cfg = build_config("s2gan", "paper").model
    m = S2GAN(cfg, DataInfo(channels=3, resolution=128))
    assert build_config("s2gan", "paper").batch_size == 64 and cfg.structure_size == 72
    assert (cfg.lr, cfg.fcn_weight, cfg.joint_structure_scale, cfg.joint_lr_style, cfg.joint_lr_structure) == \
        (2e-4, 0.1, 0.1, 1e-6, 1e-7)
    assert cfg.adam_warmup and cfg.margin_rule
    # Structure-G: FullConv9 128, FullConv4 s2 128, conv3 128, 256, 512, 512, FullConv4 256, conv3 128,
    # FullConv4 64, conv5 3 (BN after all but the last)
    assert n_params(m.netG_structure) == (
        conv(100, 128, 9) + bn(128) + conv(128, 128, 4) + bn(128) + conv(128, 128, 3) + bn(128)
        + conv(128, 256, 3) + bn(256) + conv(256, 512, 3) + bn(512) + conv(512, 512, 3) + bn(512)
        + conv(512, 256, 4) + bn(256) + conv(256, 128, 3) + bn(128) + conv(128, 64, 4) + bn(64) + conv(64, 3, 5))
    # Structure-D (no BN): conv5 s2 64, conv5 128, conv3 s2 256, conv3 s2 512, conv3 128 @ 9², linear
    assert n_params(m.netD_structure) == (conv(3, 64, 5) + conv(64, 128, 5) + conv(128, 256, 3) + conv(256, 512, 3)
                                          + conv(512, 128, 3) + 128 * 9 * 9 + 1)
    # Style-G: normals conv5 s2 64, 128; z FullConv8 64, FullConv4 64, 64; trunk conv3 256, conv3 s2 512,
    # conv3 512, FullConv4 256, 128, 64, conv5 3
    assert n_params(m.netG_style) == (
        conv(3, 64, 5) + bn(64) + conv(64, 128, 5) + bn(128)
        + conv(100, 64, 8) + bn(64) + 2 * (conv(64, 64, 4) + bn(64))
        + conv(192, 256, 3) + bn(256) + conv(256, 512, 3) + bn(512) + conv(512, 512, 3) + bn(512)
        + conv(512, 256, 4) + bn(256) + conv(256, 128, 4) + bn(128) + conv(128, 64, 4) + bn(64) + conv(64, 3, 5))
    # Style-D on RGB ‖ normals: conv5 s2 64, conv5 s2 128, conv3 s2 256, conv3 s2 512, conv3 128 @ 8², linear
    assert n_params(m.netD_style) == (conv(6, 64, 5) + conv(64, 128, 5) + conv(128, 256, 3) + conv(256, 512, 3)
                                      + conv(512, 128, 3) + 128 * 8 * 8 + 1)
    # the FCN ends at 32² for 128² (the reference's labelSize 32) with 40 codewords
    assert m.netF(torch.zeros(1, 3, 128, 128)).shape == (1, 40, 32, 32)


@pytest.mark.parametrize("resolution,size", [(16, 8), (32, 24)])
def test_every_module_has_the_documented_shapes(resolution, size):
    torch.manual_seed(0)
    cfg = dataclasses.replace(build_config("s2gan", "smoke").model, structure_size=size)
    m = S2GAN(cfg, DataInfo(channels=3, resolution=resolution)).eval()
    B, R = 3, resolution
    structure = m.netG_structure(torch.rand(B, cfg.structure_z_dim) * 2 - 1)
    assert structure.shape == (B, 3, size, size)
    assert m.netD_structure(structure).shape == (B,)
    normals = resize_normals(structure, R)
    image = m.netG_style(normals, torch.rand(B, cfg.style_z_dim) * 2 - 1)
    assert image.shape == (B, 3, R, R) and image.abs().max() <= 1
    assert m.netD_style(image, normals).shape == (B,)
    assert m.netF(image).shape == (B, cfg.fcn_codewords, R, R)
    single = S2GAN(dataclasses.replace(cfg, single=True, structure=False, structure_steps=0, joint_steps=0,
                                       fcn_weight=0.0), DataInfo(channels=3, resolution=R)).eval()
    assert not hasattr(single, "netG_structure") and not hasattr(single, "netF") and single.netG_style.normals is None
    img = single.netG_style(None, torch.rand(B, cfg.style_z_dim))
    assert img.shape == (B, 3, R, R) and single.netD_style(img).shape == (B,)
    for stride, side in ((1, R), (2, R // 2), (4, R // 4)):
        for loss, k in (("classify", 40), ("regress", 3)):
            out = NormalFCN(8, 40, loss, stride).eval()(torch.rand(B, 3, R, R) * 2 - 1)
            assert out.shape == (B, k, side, side)
            if loss == "regress":
                torch.testing.assert_close(out.norm(dim=1), torch.ones(B, side, side), rtol=0, atol=1e-5)


def test_structure_generator_gives_unit_length_normals():
    torch.manual_seed(0)
    for size in (8, 24, 72):
        G = StructureGenerator(z_dim=7, ngf=4, size=size)
        for mode in (G.train, G.eval):
            mode()
            n = G(torch.rand(5, 7) * 2 - 1)
            assert n.shape == (5, 3, size, size)
            torch.testing.assert_close(n.norm(dim=1), torch.ones(5, size, size), rtol=0, atol=1e-5)
    # and so does the joint phase's resampling to the image side (renormalised after bilinear)
    up = resize_normals(n, 128)
    torch.testing.assert_close(up.norm(dim=1), torch.ones(5, 128, 128), rtol=0, atol=1e-5)


def test_uniform_noise_maps_standard_normal_draws_to_uniform_on_minus_one_one():
    u = uniform_noise(torch.randn(200_000, generator=torch.Generator().manual_seed(0)))
    assert -1 <= u.min() and u.max() <= 1
    assert abs(u.mean()) < 0.01 and abs(u.var() - 1 / 3) < 0.003


# ------------------------------------------------------------------------------------------ codebook, losses

def test_the_codebook_is_unit_length_faces_the_viewer_and_labels_a_synthetic_map_right():
    cb = normal_codebook(40)
    assert cb.shape == (40, 3)
    torch.testing.assert_close(cb.norm(dim=1), torch.ones(40), rtol=0, atol=1e-6)
    assert (cb[:, 2] >= 0).all() and torch.equal(cb[0], torch.tensor([0.0, 0.0, 1.0]))
    cos = cb @ cb.T - 2 * torch.eye(40)
    assert cos.max() < math.cos(math.radians(10))  # spread out: no two codewords within 10°
    assert torch.equal(normal_codebook(40), cb)  # deterministic
    # a map whose pixels are codewords tilted by a small random rotation: each is labelled with its own index
    idx = torch.randint(0, 40, (2, 5, 6), generator=torch.Generator().manual_seed(1))
    noisy = torch.nn.functional.normalize(cb[idx].permute(0, 3, 1, 2) + 0.03 * unit_normals(2, 1).expand(2, 3, 5, 6)
                                          * torch.randn(2, 1, 5, 6, generator=torch.Generator().manual_seed(2)), dim=1)
    assert torch.equal(nearest_codeword(noisy, cb), idx)
    # a flat map → codeword 0; one tilted 50° to the right → the codeword nearest (sin 50°, 0, cos 50°)
    flat = torch.zeros(1, 3, 2, 2)
    flat[:, 2] = 1
    assert (nearest_codeword(flat, cb) == 0).all()
    tilt = torch.tensor([math.sin(math.radians(50)), 0.0, math.cos(math.radians(50))])
    assert nearest_codeword(tilt.view(1, 3, 1, 1), cb).item() == int((cb @ tilt).argmax())


def test_normal_loss_is_the_cross_entropy_against_nearest_codewords_at_the_output_side():
    fcn = NormalFCN(4, 40, "classify", 2)
    normals = unit_normals(2, 8)
    logits = torch.randn(2, 40, 4, 4)
    target = nearest_codeword(resize_normals(normals, 4), fcn.codebook)
    torch.testing.assert_close(normal_loss(fcn, logits, normals), torch.nn.functional.cross_entropy(logits, target))
    confident = torch.nn.functional.one_hot(target, 40).permute(0, 3, 1, 2).float() * 50
    assert normal_loss(fcn, confident, normals) < 1e-6
    reg = NormalFCN(4, 40, "regress", 2)
    half = resize_normals(normals, 4)
    assert normal_loss(reg, half, normals) < 1e-6 and normal_loss(reg, -half, normals) > 1.99


def test_feed_back_carries_a_scaled_gradient_and_adds_nothing_to_the_loss():
    theta = torch.randn(4, requires_grad=True)
    x = torch.stack([theta.sin(), theta * 3])  # any function of theta
    g = torch.randn(2, 4)
    loss = feed_back(x, g, 0.1)
    assert loss.item() == 0
    loss.backward()
    expected = torch.autograd.grad((torch.stack([theta.sin(), theta * 3]) * g).sum(), theta)[0]
    torch.testing.assert_close(theta.grad, 0.1 * expected)


def test_the_margin_rule_is_the_reference_codes():
    assert margin_rule(0.5, 0.5) == (True, True)
    assert margin_rule(0.2, 0.5) == (False, True)   # D already good on the real half: skip D
    assert margin_rule(0.5, 0.25) == (False, True)
    assert margin_rule(0.8, 0.5) == (True, False)   # D bad on the real half: skip G
    assert margin_rule(0.5, 0.75) == (True, False)
    assert margin_rule(0.2, 0.8) == (True, True)    # both would be skipped: both update
    assert margin_rule(0.3, 0.7) == (True, True)    # the thresholds are strict


def test_a_skipped_update_is_logged_but_not_applied():
    run = build_config("s2gan", "smoke", {"model.margin_rule": True})
    w = torch.nn.Parameter(torch.tensor(1.0))
    ctx = StepContext({}, {"d_x": torch.optim.SGD([w], lr=1.0)}, Phase("x", 1), 0, run, contextlib.nullcontext)
    logits = w * torch.full((4,), 5.0)
    assert _d_update(ctx, "d_x", logits, -logits, "x")  # D already good on both halves (BCE 0.007): skip D
    assert float(w.detach()) == 1.0 and w.grad is None
    assert list(ctx.losses) == ["skip_d_x", "skip_g_x", "loss_d_x", "x_err_real", "x_err_fake"]
    assert ctx.losses["skip_d_x"] == 1.0 and ctx.losses["skip_g_x"] == 0.0
    assert ctx.losses["loss_d_x"] == pytest.approx(math.log1p(math.exp(-5.0)), rel=1e-5)


def test_the_reference_adam_warm_up_is_expressed_exactly():
    opt = Optim(("netG_style",), lr=2e-4, warmup_factors=REFERENCE_WARMUP)
    rates = [opt.lr_at(t) for t in range(35)]
    assert rates[:10] == [pytest.approx(2e-4 / 50)] * 10
    assert rates[10:30] == [pytest.approx(2e-4 / 5)] * 20
    assert rates[30:] == [2e-4] * 5
    with pytest.raises(ConfigError, match="ascending"):
        Optim(("x",), lr=1.0, warmup_factors=((30, 0.2), (10, 0.02)))


# ------------------------------------------------------------------------------------------ one step, by hand

class GradRecorder:
    """An optimizer stand-in for StepContext: step() records each parameter's gradient and changes nothing,
    so every forward of a step sees the same weights and gradients can be compared across configs."""

    def __init__(self, params):
        self.params = list(params)
        self.grads = None
        self.steps = 0

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def step(self):
        self.grads = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in self.params]
        self.steps += 1


def _run_step(cfg: S2ganConfig, phase: str, roles: dict[str, str], batch: dict, seed: int = 1):
    """One train step of ``phase`` with recording optimizers; D's dropout off (eval), G's BN in train mode."""
    torch.manual_seed(0)
    m = S2GAN(cfg, SMOKE)
    for name, module in m.named_children():
        module.train(name.startswith("netG"))
        module.requires_grad_(name in roles.values())
    opts = {role: GradRecorder(getattr(m, name).parameters()) for role, name in roles.items()}
    run = build_config("s2gan", "smoke", {f"model.{f.name}": getattr(cfg, f.name) for f in dataclasses.fields(cfg)})
    modules = dict(m.named_children())
    ctx = StepContext(modules, opts, Phase(phase, 1), 0, run, contextlib.nullcontext, modules=modules)
    torch.manual_seed(seed)
    _train_step(batch, ctx)
    return m, opts, ctx


JOINT_ROLES = {"d_style": "netD_style", "g_style": "netG_style", "d_structure": "netD_structure",
               "g_structure": "netG_structure"}


def _batch(b=6):
    return {"image": torch.rand(b, 3, 16, 16) * 2 - 1, "normals": unit_normals(b, 16), "label": torch.zeros(b)}


def test_joint_phase_scales_the_style_gradient_into_the_structure_g_by_01():
    """The Structure-G's gradient is its own D's BCE gradient plus the Style-G loss's gradient on its
    normals input times joint_structure_scale: compared at scales 0, 0.1 and 1 (a step that dropped the
    scale, or fed the Style-G detached normals, fails), and the scale-1 part equals plain end-to-end autograd."""
    base = build_config("s2gan", "smoke").model
    batch = _batch()
    grads = {}
    for scale in (0.0, 0.1, 1.0):
        m, opts, ctx = _run_step(dataclasses.replace(base, joint_structure_scale=scale), "joint", JOINT_ROLES, batch)
        grads[scale] = (opts["g_structure"].grads, opts["g_style"].grads)
        assert {"loss_g_style", "loss_g_structure", "adv_structure", "loss_d_style", "loss_d_structure"} <= set(ctx.losses)
    own, style1 = grads[0.0][0], [a - b for a, b in zip(grads[1.0][0], grads[0.0][0])]
    assert sum(float(t.abs().sum()) for t in style1) > 0  # the Style-G's loss reaches the Structure-G
    for g01, g0, s1 in zip(grads[0.1][0], own, style1):
        torch.testing.assert_close(g01 - g0, 0.1 * s1, rtol=1e-3, atol=1e-9)
    for a, b in zip(grads[0.1][1], grads[1.0][1]):  # the Style-G's own gradient is not scaled
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the unscaled part is the true chain rule: the Style-D's BCE through the Style-G, the renormalised
    # resampling and the Structure-G (the same noise: z_structure then z_style from the step's seed)
    torch.manual_seed(0)
    m2 = S2GAN(base, SMOKE)
    m2.netD_style.eval()
    torch.manual_seed(1)
    z1, z = torch.rand(6, base.structure_z_dim) * 2 - 1, torch.rand(6, base.style_z_dim) * 2 - 1
    normals = resize_normals(m2.netG_structure(z1), 16)
    s = m2.netD_style(m2.netG_style(normals, z), normals.detach())
    loss = torch.nn.functional.binary_cross_entropy_with_logits(s, torch.ones_like(s))
    direct = torch.autograd.grad(loss, list(m2.netG_structure.parameters()))
    for a, b in zip(style1, direct):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-9)


def test_the_fcn_loss_reaches_the_style_g_through_the_frozen_fcn_weighted_by_lambda():
    base = dataclasses.replace(build_config("s2gan", "smoke").model, structure=False, structure_steps=0, joint_steps=0)
    roles = {"d_style": "netD_style", "g_style": "netG_style"}
    batch = _batch()
    grads = {}
    for lam in (0.1, 0.2):
        m, opts, ctx = _run_step(dataclasses.replace(base, fcn_weight=lam), "style", roles, batch)
        grads[lam] = opts["g_style"].grads
        assert all(p.grad is None for p in m.netF.parameters())  # frozen: no weight gradients
        assert ctx.losses["fcn"] > 0 and ctx.losses["loss_g_style"] == pytest.approx(
            ctx.losses["adv_style"] + lam * ctx.losses["fcn"], rel=1e-5)
    m, opts, _ = _run_step(dataclasses.replace(base, fcn_weight=0.0), "style", roles, batch)
    assert not hasattr(m, "netF")
    adv = opts["g_style"].grads
    for g1, g2, g0 in zip(grads[0.1], grads[0.2], adv):  # G's gradient is adv + λ·fcn: linear in λ
        torch.testing.assert_close(g2 - g0, 2 * (g1 - g0), rtol=1e-3, atol=1e-9)
    assert any(float((g1 - g0).abs().sum()) > 0 for g1, g0 in zip(grads[0.1], adv))


def test_the_mode_seeking_ratio_is_zero_for_a_g_that_ignores_z_and_charges_it_in_the_style_step():
    from core.models.s2gan import mode_seeking_ratio

    class Ignores(torch.nn.Module):
        def forward(self, normals, z):
            return normals * 0.5

    class Copies(torch.nn.Module):  # the image is z itself, 3 channels of 2×2: the ratio is exactly 1
        def forward(self, normals, z):
            return z.view(-1, 3, 2, 2)

    normals, z = unit_normals(4, 2), torch.rand(4, 12) * 2 - 1
    assert float(mode_seeking_ratio(Ignores(), normals, z, Ignores()(normals, z))) == 0.0
    torch.manual_seed(0)
    assert float(mode_seeking_ratio(Copies(), normals, z, Copies()(normals, z))) == pytest.approx(1.0)
    base = dataclasses.replace(build_config("s2gan", "smoke").model, structure=False, structure_steps=0, joint_steps=0)
    roles = {"d_style": "netD_style", "g_style": "netG_style"}
    _, _, ctx = _run_step(dataclasses.replace(base, style_ms_weight=0.5), "style", roles, _batch())
    assert ctx.losses["ms_style"] > 0 and ctx.losses["loss_g_style"] == pytest.approx(
        ctx.losses["adv_style"] + base.fcn_weight * ctx.losses["fcn"] + 0.5 / (ctx.losses["ms_style"] + 1e-5), rel=1e-5)
    _, _, ctx = _run_step(base, "style", roles, _batch())
    assert "ms_style" not in ctx.losses
    with pytest.raises(ConfigError, match="style_ms_weight"):
        S2GAN(dataclasses.replace(base, style_ms_weight=-1.0), SMOKE)


# ------------------------------------------------------------------------------------------ configs and rows

def test_each_ablation_row_changes_exactly_its_settings():
    rows = {r.id: r for r in TABLE.rows_for("quick")}
    full = build_config("s2gan", "quick", rows["stack-joint"].unit.overrides).model
    S, T, J = full.structure_steps, full.style_steps, full.joint_steps
    style_only = {"structure": False, "structure_steps": 0, "joint_steps": 0}
    expected = {
        "stack-joint": {},
        "stack-independent": {"structure_steps": S + J, "style_steps": T + J, "joint_steps": 0},
        "style-fcn": style_only,
        "style": {**style_only, "fcn_weight": 0.0},
        "dcgan": {"single": True, "structure": False, "structure_steps": 0, "fcn_weight": 0.0,
                  "style_steps": S + T + J, "joint_steps": 0},
    }
    assert set(rows) == set(expected)
    fcn_run = build_config("s2gan-fcn", "quick").model
    for rid, changes in expected.items():
        cfg = build_config("s2gan", "quick", rows[rid].unit.overrides).model
        diff = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
                if getattr(cfg, f.name) != getattr(full, f.name)}
        assert diff == changes, rid
        unit = rows[rid].unit
        if cfg.fcn_weight > 0:  # the shared frozen FCN, whose architecture the row's fields must match
            assert unit.parent.model == "s2gan-fcn" and unit.frozen_modules == ("netF",)
            assert all(getattr(cfg, k) == getattr(fcn_run, k) for k in ("fcn_loss", "fcn_codewords", "fcn_width",
                                                                         "fcn_out_stride"))
        else:
            assert unit.parent is None and unit.frozen_modules == ()
    assert rows["dcgan"].metrics == ("fid", "kid") and all(rows[r].metrics is None for r in rows if r != "dcgan")
    for c in TABLE.claims:  # every claim compares rows of the table on a score the rows compute
        assert {c.better, *c.worse} <= set(rows) and c.why
        assert all(rows[r].metrics is None for r in (c.better, *c.worse)) or c.metric in ("fid", "kid_mean")
    assert {c.metric for c in TABLE.claims} == {"normal_error_deg", "fid"}


def test_conditions_noises_and_inconsistent_configs():
    spec = build_config("s2gan", "smoke")
    from core.models import get_model_spec

    s = get_model_spec("s2gan")
    m = spec.model
    assert s.condition_kinds(m) == ()
    assert s.condition_kinds(dataclasses.replace(m, structure=False, structure_steps=0, joint_steps=0)) == ("structure",)
    assert s.noise_shapes(m) == {"z_structure": (8,), "z_style": (8,)}
    assert s.pretrained(m) == ("netF",) and s.pretrained(dataclasses.replace(m, fcn_weight=0.0)) == ()
    with pytest.raises(ConfigError, match="single=True"):
        S2GAN(dataclasses.replace(m, single=True), SMOKE)
    with pytest.raises(ConfigError, match="structure=False"):
        S2GAN(dataclasses.replace(m, structure=False), SMOKE)
    with pytest.raises(ConfigError, match="multiple of 16"):
        S2GAN(m, DataInfo(channels=3, resolution=24))
    with pytest.raises(ConfigError, match="multiple of 8"):
        S2GAN(dataclasses.replace(m, structure_size=12), SMOKE)


# ------------------------------------------------------------------------------------------ smoke training

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("s2gan")
    fcn = train(build_config("s2gan-fcn", "smoke"), root / "fcn", progress=False)
    frozen = {"frozen": [f"netF={fcn}:netF"]}
    stack = train(build_config("s2gan", "smoke", {**frozen, "model.adam_warmup": True, "model.margin_rule": True}),
                  root / "stack", progress=False)
    style = train(build_config("s2gan", "smoke", {"model.structure": False, "model.structure_steps": 0,
                                                  "model.joint_steps": 0, "model.fcn_weight": 0.0}),
                  root / "style", progress=False)
    single = train(build_config("s2gan", "smoke", {"model.single": True, "model.structure": False,
                                                   "model.structure_steps": 0, "model.joint_steps": 0,
                                                   "model.fcn_weight": 0.0}), root / "single", progress=False)
    return {"fcn": fcn, "stack": stack, "style": style, "single": single, "root": root}


def _log(run):
    return [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if '"event"' not in l]


def test_smoke_training_runs_every_phase_and_never_changes_the_fcn(runs):
    assert [r["phase"] for r in _log(runs["fcn"])] == ["fcn"] * 3 and "err_deg" in _log(runs["fcn"])[-1]
    log = _log(runs["stack"])
    assert [r["phase"] for r in log] == ["structure"] * 2 + ["style"] * 2 + ["joint"] * 2
    assert {"fcn", "adv_style", "skip_d_style", "skip_g_style"} <= set(log[2])
    assert "fcn" not in log[-1] and {"loss_g_structure", "loss_g_style", "adv_structure"} <= set(log[-1])
    # the reference warm-up, counted from each phase's start: lr/50, with the joint phase's own rates
    assert log[0]["lr_g_structure"] == pytest.approx(2e-4 / 50) and log[2]["lr_g_style"] == pytest.approx(2e-4 / 50)
    assert log[-1]["lr_g_style"] == pytest.approx(2e-5 / 50) and log[-1]["lr_g_structure"] == pytest.approx(2e-6 / 50)
    donor = load_file(str(runs["fcn"] / "checkpoints" / "final" / "model.safetensors"))
    got = load_file(str(runs["stack"] / "checkpoints" / "final" / "model.safetensors"))
    assert donor and all(torch.equal(got[k], v) for k, v in donor.items())  # weights, BN statistics, codebook
    assert [r["phase"] for r in _log(runs["style"])] == ["style"] * 2
    assert [r["phase"] for r in _log(runs["single"])] == ["single"] * 2


def test_an_fcn_of_another_architecture_is_refused(runs, tmp_path):
    with pytest.raises(ConfigError, match="does not fit"):
        train(build_config("s2gan", "smoke", {"frozen": [f"netF={runs['fcn']}:netF"], "model.fcn_width": 8}),
              tmp_path / "r", progress=False)


def test_generation_is_addressed_by_seed(runs):
    pipe = Pipeline.from_checkpoint(runs["stack"])
    assert pipe.conditions == () and pipe.noise_names == ("z_structure", "z_style")
    a, b = pipe.generate(seeds=[0, 1, 2]), pipe.generate(seeds=[0, 1, 2])
    assert torch.equal(a["image"], b["image"]) and a["image"].shape == (3, 3, 16, 16)
    torch.testing.assert_close(a["normals"].norm(dim=1), torch.ones(3, 16, 16), rtol=0, atol=1e-5)
    torch.testing.assert_close(pipe.generate(seeds=[2])["image"], a["image"][2:], rtol=0, atol=1e-6)
    assert (a["image"][0] - a["image"][1]).abs().max() > 0
    # one structure, several styles: the normals are the same, the renderings differ
    fixed = pipe.generate(seeds={"z_structure": [5] * 3, "z_style": [0, 1, 2]})
    assert torch.equal(fixed["normals"], fixed["normals"][:1].expand(3, -1, -1, -1))
    assert (fixed["image"][0] - fixed["image"][1]).abs().max() > 0
    style = Pipeline.from_checkpoint(runs["style"])
    assert style.conditions == ("structure",) and style.noise_names == ("z_style",)
    given = unit_normals(2, 32)  # any side: resized to the model's
    out = style.generate(structure=given, seeds=[0, 1])
    assert out["image"].shape == (2, 3, 16, 16) and torch.equal(out["normals"], resize_normals(given, 16))
    assert torch.equal(style.generate(structure=given, seeds=[0, 1])["image"], out["image"])
    single = Pipeline.from_checkpoint(runs["single"]).generate(seeds=[0, 1])
    assert set(single) == {"image"} and single["image"].shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="makes no images"):
        Pipeline.from_checkpoint(runs["fcn"])


def test_the_paper_figures_are_drawn_from_a_checkpoint(runs, tmp_path, capsys):
    """bench.s2gan_figures: three sheets of the documented grid sizes; a model without both noises is refused."""
    from PIL import Image

    from bench.s2gan_figures import K, main

    assert main(["--checkpoint", str(runs["stack"]), "--out", str(tmp_path), "--rows", "3"]) == 0
    cell, pad, text = 64, 4, 150  # 16 px models are drawn at 64 px
    sizes = {name: Image.open(tmp_path / f"{name}.png").size for name in ("structures", "one_structure", "one_style")}
    assert sizes["structures"] == (text + K * (cell + pad) + pad, 2 * (cell + pad) + pad)
    assert sizes["one_structure"] == (text + (K + 1) * (cell + pad) + pad, 3 * (cell + pad) + pad)
    assert sizes["one_style"] == (text + K * (cell + pad) + pad, 4 * (cell + pad) + pad)
    assert "python -m bench.s2gan_figures --checkpoint" in (tmp_path / "README.md").read_text()
    assert main(["--checkpoint", str(runs["style"]), "--out", str(tmp_path / "no")]) == 2
    assert "not a full S²-GAN" in capsys.readouterr().err


@pytest.mark.parametrize("field,phase,role", [("structure_d_lr", "structure", "d_structure"),
                                                ("style_d_lr", "style", "d_style")])
def test_a_d_rate_sets_only_that_ds_rate_and_only_in_its_own_phase(field, phase, role):
    """The Structure-D's and the Style-D's rates can be set apart from ``lr`` (probed on val:
    bench/sweeps/s2gan_structure.py); 0, or a value equal to lr, is the reference (every network at lr), and both
    canonicalise alike. The joint phase keeps its own rates."""
    from core.models.s2gan import _canonical, _phases
    base = build_config("s2gan", "smoke", {"model.lr": 2e-4, "model.joint_steps": 2})
    fast = build_config("s2gan", "smoke", {"model.lr": 2e-4, f"model.{field}": 1e-3, "model.joint_steps": 2})

    def rates(run):
        return {(p.name, r): o.lr for p in _phases(run) for r, o in p.optimize.items()}

    a, b = rates(base), rates(fast)
    assert {k for k in a if a[k] != b[k]} == {(phase, role)}
    assert b[(phase, role)] == 1e-3 and a[(phase, role)] == 2e-4
    assert _canonical(S2ganConfig(lr=2e-4, **{field: 2e-4})) == _canonical(S2ganConfig(lr=2e-4))
    assert _canonical(S2ganConfig(lr=2e-4, **{field: 1e-3})) != _canonical(S2ganConfig(lr=2e-4))
    with pytest.raises(ConfigError, match=field):
        S2GAN(dataclasses.replace(base.model, **{field: -1.0}), SMOKE)


def test_a_centered_structure_d_sees_the_viewer_facing_normal_as_zero():
    from core.models.s2gan import StructureDiscriminator, _canonical
    torch.manual_seed(0)
    plain, centered = StructureDiscriminator(4, 8).eval(), StructureDiscriminator(4, 8, center=True).eval()
    centered.load_state_dict(plain.state_dict())
    n = unit_normals(3, 8)
    assert torch.allclose(centered(n), plain(n - torch.tensor([0.0, 0.0, 1.0])[:, None, None]))
    assert not torch.allclose(centered(n), plain(n))
    m = S2GAN(dataclasses.replace(build_config("s2gan", "smoke").model, structure_d_center=True), SMOKE)
    assert m.netD_structure.center and not S2GAN(build_config("s2gan", "smoke").model, SMOKE).netD_structure.center
    # a run without a Structure-GAN does not use the switch: it canonicalises away
    style_only = S2ganConfig(structure=False, structure_steps=0, joint_steps=0)
    assert _canonical(dataclasses.replace(style_only, structure_d_center=True)) == _canonical(style_only)


# ------------------------------------------------------------------------------------------ issue #27: health

def bevelled_discs(b: int, side: int, seed: int = 0) -> torch.Tensor:
    """``[b, 3, side, side]`` maps like ``shapes``': a flat ground facing the viewer with one disc whose 2-px
    rim tilts outwards by 45°, at a random place and radius."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(), indexing="ij")
    maps = torch.zeros(b, 3, side, side)
    maps[:, 2] = 1.0
    for i in range(b):
        cy, cx = (torch.rand(2, generator=g) * side * 0.5 + side * 0.25).tolist()
        r = float(torch.rand(1, generator=g)) * side * 0.15 + side * 0.15
        dy, dx = yy - cy, xx - cx
        d = (dx ** 2 + dy ** 2).sqrt()
        rim = (d > r - 2) & (d <= r)
        s = math.sin(math.pi / 4) / d.clamp(min=1e-6)
        maps[i, 0][rim], maps[i, 1][rim], maps[i, 2][rim] = (dx * s)[rim], (dy * s)[rim], math.cos(math.pi / 4)
    return maps


@pytest.mark.parametrize("init", ["normal", "kaiming"])
def test_the_structure_d_learns_to_separate_real_maps_from_a_constant_map(init):
    # the toy check of docs/s2gan.md: D alone, against one all-flat map, is not broken under either init
    from core.losses import bce
    from core.models.s2gan import StructureDiscriminator
    torch.manual_seed(0)
    D = StructureDiscriminator(8, 16, init=init)
    opt = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    flat = torch.zeros(16, 3, 16, 16)
    flat[:, 2] = 1.0
    for step in range(80):
        real = bevelled_discs(16, 16, seed=step)
        loss = 0.5 * (bce(D(real), True) + bce(D(flat), False))
        opt.zero_grad()
        loss.backward()
        opt.step()
    D.eval()
    with torch.no_grad():
        p_real, p_flat = torch.sigmoid(D(bevelled_discs(64, 16, seed=999))).mean(), torch.sigmoid(D(flat)).mean()
    assert p_real > 0.8 and p_flat < 0.2


def test_he_initialisation_gives_the_structure_d_a_signal_the_reference_init_does_not():
    # the measured cause of the collapse (docs/s2gan.md): at quick's widths the N(0, 0.02) D's logits spread by
    # a few ten-thousandths across real maps, so G's gradient is ~1e-5; He-normal keeps the spread near 1
    from core.models.s2gan import StructureDiscriminator
    maps = bevelled_discs(64, 24)
    spread = {}
    for init in ("normal", "kaiming"):
        torch.manual_seed(0)
        spread[init] = float(StructureDiscriminator(16, 24, init=init).eval()(maps).std())
    assert spread["normal"] < 1e-2 and spread["kaiming"] > 0.1
    assert spread["kaiming"] > 100 * spread["normal"]
    smoke = build_config("s2gan", "smoke").model
    with pytest.raises(ConfigError, match="structure_d_init"):
        S2GAN(dataclasses.replace(smoke, structure_d_init="xavier"), SMOKE)
    ref = S2GAN(smoke, SMOKE)
    for field, name in (("structure_d_init", "netD_structure"), ("style_d_init", "netD_style")):
        m = S2GAN(dataclasses.replace(smoke, **{field: "kaiming"}), SMOKE)  # each D follows its own field
        other = "netD_style" if name == "netD_structure" else "netD_structure"
        assert getattr(m, name).net[0].weight.std() > 3 * getattr(ref, name).net[0].weight.std()
        assert abs(getattr(m, other).net[0].weight.std() - getattr(ref, other).net[0].weight.std()) < 0.01
        assert abs(m.netG_structure.net[0].weight.std() - ref.netG_structure.net[0].weight.std()) < 0.005


def test_structure_g_rate_and_d_steps_change_only_the_structure_phase():
    from core.models.s2gan import _canonical
    base = build_config("s2gan", "smoke").model
    with pytest.raises(ConfigError, match="structure_d_steps"):
        S2GAN(dataclasses.replace(base, structure_d_steps=0), SMOKE)
    with pytest.raises(ConfigError, match="structure_g_lr"):
        S2GAN(dataclasses.replace(base, structure_g_lr=-1.0), SMOKE)
    assert _canonical(S2ganConfig(lr=2e-4, structure_g_lr=2e-4)) == _canonical(S2ganConfig(lr=2e-4))
    style_only = S2ganConfig(structure=False, structure_steps=0, joint_steps=0)
    assert _canonical(dataclasses.replace(style_only, structure_d_steps=3, structure_g_lr=1e-5)) == \
        _canonical(style_only)
    # k D updates per step: the Structure-D's optimizer steps k times, the Structure-G's once
    counts = {}
    for k in (1, 3):
        cfg = dataclasses.replace(base, structure_d_steps=k)
        _, opts, _ = _run_step(cfg, "structure", {"d_structure": "netD_structure", "g_structure": "netG_structure"},
                               _batch())
        counts[k] = {role: o.steps for role, o in opts.items()}
    assert counts == {1: {"d_structure": 1, "g_structure": 1}, 3: {"d_structure": 3, "g_structure": 1}}


# Issue #27's test on the shipped Structure-GAN, with the table's gate (bench/tables/s2gan.py
# STRUCTURE_SPREAD_GATE: at least half of real val maps' spread, 0.062 at 32 px) declared here as a number: 64
# sampled normal maps at fixed seeds must differ by a per-pixel std of at least 0.031. The shipped model is the
# collapsed one (docs/s2gan.md, "Why the Structure-GAN collapses"): it measures 0.0046, so this is a strict xfail
# until a healthy Structure-GAN is shipped; then the mark goes and the test guards it.
STRUCTURE_SPREAD_MIN = 0.031


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="the shipped s2gan-shapes Structure-GAN is collapsed (spread 0.0046 < 0.031); #27 ships a healthy one")
def test_the_shipped_structure_gan_draws_different_maps():
    from core.metrics.domain import normal_spread

    pipe = Pipeline.from_checkpoint(Path(__file__).resolve().parent.parent / "results/checkpoints/s2gan-shapes")
    maps = pipe.generate(seeds=range(64))["normals"]
    assert torch.equal(maps, pipe.generate(seeds=range(64))["normals"])  # fixed seeds: one number
    assert normal_spread(maps) >= STRUCTURE_SPREAD_MIN

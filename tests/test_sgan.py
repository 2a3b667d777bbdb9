"""SGAN (Huang et al., CVPR 2017): networks, losses, phases and the ablation rows (issue #16)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bench.tables.sgan import TABLE
from core.errors import ConfigError
from core.models import DataInfo
from core.models.sgan import (SGAN, Encoder, SganConfig, SganEncoderConfig, conditional_loss, encoder_sizes, entropy_loss,
                              forward_generators, generator_losses, sample_noise, uniform_noise)
from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import train

MNIST = DataInfo(channels=1, resolution=28, num_classes=10)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def dense(i, o, bias=True):
    return i * o + (o if bias else 0)


def bn(c):
    return 2 * c  # γ and β


def conv(cin, cout, k=5, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def test_paper_preset_networks_equal_the_reference_code_layer_by_layer():
    """The paper preset's sizes, derived from the reference mnist/train_independent.py layer by layer (its
    nn.batch_norm wrapper drops the bias of the layer it wraps and adds γ, β)."""
    cfg = build_config("sgan", "paper").model
    m = SGAN(cfg, MNIST)
    # E: conv1 5×5 32, pool, conv2 5×5 32, pool (4×4), fc3 256, fc4 10
    assert n_params(m.netE) == conv(1, 32) + conv(32, 32) + dense(32 * 4 * 4, 256) + dense(256, 10)
    # G1: [z1 50 ‖ y 10] → BN(FC512) → BN(FC512) → FC256 (ReLU, with bias)
    assert n_params(m.netG1) == dense(60, 512, False) + bn(512) + dense(512, 512, False) + bn(512) + dense(512, 256)
    # G0: BN(FC128 of z0) ‖ fc3 → BN(FC 128·4·4) → BN(deconv 128) → BN(deconv 64) → BN(deconv 64) → deconv 1 (bias)
    assert n_params(m.netG0) == (dense(50, 128, False) + bn(128) + dense(256 + 128, 128 * 16, False) + bn(128 * 16)
                                 + conv(128, 128, bias=False) + bn(128) + conv(128, 64, bias=False) + bn(64)
                                 + conv(64, 64, bias=False) + bn(64) + conv(64, 1))
    # D1: FC256 lReLU ×2 → Q1 FC50 (sigmoid), adv FC1
    assert n_params(m.netD1) == dense(256, 256) * 2 + dense(256, 50) + dense(256, 1)
    # D0: conv5 s2 32 → 64 → 128 (28 → 14 → 7 → 4) → FC256 → Q0 FC50, adv FC1
    assert n_params(m.netD0) == (conv(1, 32) + conv(32, 64) + conv(64, 128) + dense(128 * 16, 256) + dense(256, 50)
                                 + dense(256, 1))
    assert (cfg.adv_weight, cfg.cond_weight, cfg.ent_weight, cfg.lr, cfg.joint_g1_scale) == (1.0, 1.0, 10.0, 1e-4, 0.01)
    assert build_config("sgan", "paper").batch_size == 100


@pytest.mark.parametrize("info", [MNIST, DataInfo(channels=3, resolution=32, num_classes=10)])
def test_every_module_has_the_documented_shapes(info):
    torch.manual_seed(0)
    cfg = build_config("sgan", "smoke").model
    m = SGAN(cfg, info).eval()
    B, R, C = 4, info.resolution, info.channels
    x = torch.rand(B, C, R, R) * 2 - 1
    y = torch.arange(B)
    h1 = m.netE.features(x)
    assert h1.shape == (B, cfg.fc3) and (h1 >= 0).all()
    assert m.netE.classify(h1).shape == (B, 10) and m.netE(x).shape == (B, 10)
    h1_fake = m.netG1(y, torch.rand(B, cfg.z1_dim))
    assert h1_fake.shape == (B, cfg.fc3) and (h1_fake >= 0).all()
    img = m.netG0(h1_fake, torch.rand(B, cfg.z0_dim))
    assert img.shape == (B, C, R, R) and img.abs().max() <= 1
    for D, inp, z in ((m.netD1, h1, cfg.z1_dim), (m.netD0, x, cfg.z0_dim)):
        logit, q = D(inp)
        assert logit.shape == (B,) and q.shape == (B, z) and ((q >= 0) & (q <= 1)).all()
    assert encoder_sizes(28) == (24, 12, 8, 4) and encoder_sizes(32) == (28, 14, 10, 5)
    with pytest.raises(ConfigError, match="resolution"):
        encoder_sizes(30)


def test_entropy_loss_is_the_noise_reconstruction_error_and_zero_exactly_when_q_recovers_z():
    z = torch.rand(8, 5)
    assert entropy_loss(z.clone(), z) == 0
    q = z + 0.1 * torch.randn(8, 5)
    assert torch.isclose(entropy_loss(q, z), ((q - z) ** 2).mean())
    assert entropy_loss(q, z) > 0
    q2 = z.clone()
    q2[3, 1] += 0.5  # one coordinate off: positive
    assert torch.isclose(entropy_loss(q2, z), torch.tensor(0.25 / 40))


def test_uniform_noise_maps_standard_normal_draws_to_uniform():
    u = uniform_noise(torch.randn(200_000, generator=torch.Generator().manual_seed(0)))
    assert 0 <= u.min() and u.max() <= 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002


def _nets(cfg: SganConfig, info=MNIST, frozen_e=True):
    torch.manual_seed(0)
    m = SGAN(cfg, info)
    if frozen_e:
        m.netE.requires_grad_(False)
    return m, {name: getattr(m, name) for name, _ in m.named_children()}


def test_encoder_holds_fc3_at_its_target_rms_without_changing_what_it_classifies():
    """fc3_rms fixes the free scale of fc3 (SGAN's G0 input and conditional loss depend on it), by a running
    estimate updated in training mode; classify undoes it, so E's logits are the raw network's."""
    torch.manual_seed(0)
    E = Encoder(1, 28, 10, 8, 8, 32, fc3_rms=0.9)
    raw = Encoder(1, 28, 10, 8, 8, 32)
    raw.load_state_dict({k: v for k, v in E.state_dict().items() if "rms" not in k}, strict=False)
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        assert torch.equal(raw.features(x), raw.trunk(x))          # no target: the raw fc3
        h = E.features(x)                                           # training mode: the first batch sets r
        assert h.pow(2).mean().sqrt().item() == pytest.approx(0.9, rel=1e-5)
        assert E.raw_rms.item() == pytest.approx(raw.trunk(x).pow(2).mean().sqrt().item(), rel=1e-6)
        torch.testing.assert_close(E.classify(h), raw(x))
        E.features(x * 0.5)                                         # a second batch moves r by the momentum
        r = E.raw_rms.item()
        E.eval()
        E.features(x)                                               # eval mode: r is left alone
        assert E.raw_rms.item() == r
        torch.testing.assert_close(E(x), raw(x))
        torch.testing.assert_close(E.features(x), raw.trunk(x) * 0.9 / r)


def test_conditional_loss_goes_through_the_frozen_encoder_which_gets_no_gradient():
    cfg = build_config("sgan", "smoke").model
    m, nets = _nets(cfg)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    h1 = m.netE.features(x)
    fake = m.netG0(h1, torch.rand(4, cfg.z0_dim))
    loss = conditional_loss(m.netE, fake, h1, 0)
    assert torch.isclose(loss, ((m.netE.features(fake) - h1) ** 2).mean())
    loss.backward()
    assert all(p.grad is None for p in m.netE.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.netG0.parameters())  # through E
    y = torch.tensor([1, 2, 3, 4])
    h1_fake = m.netG1(y, torch.rand(4, cfg.z1_dim))
    ce = conditional_loss(m.netE, h1_fake, y, 1)  # level 1: cross-entropy of E's fc4 on the generated fc3
    assert torch.isclose(ce, torch.nn.functional.cross_entropy(m.netE.fc4(h1_fake), y))


def _grads(module, loss):
    module.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in module.parameters()]


def test_joint_phase_feeds_g1_output_to_g0_and_scales_g0_loss_into_g1_by_001():
    base = build_config("sgan", "smoke").model
    x, y = torch.rand(6, 1, 28, 28) * 2 - 1, torch.arange(6) % 10
    grads = {}
    for scale in (0.01, 1.0):
        cfg = dataclasses.replace(base, joint_g1_scale=scale)
        m, nets = _nets(cfg)
        z = sample_noise(cfg, 6, "cpu")
        torch.manual_seed(1)
        gen = forward_generators(nets, cfg, x, y, z, joint=True, num_classes=10)
        assert torch.equal(gen["h1_in"], gen["h1_fake"])  # G0 is fed G1's output ...
        assert torch.allclose(gen["fake"], m.netG0(gen["h1_fake"], z["z0"]), atol=1e-6)  # ... not E(x)
        g = generator_losses(nets, cfg, y, gen, z)
        grads[scale] = (_grads(m.netG1, g["g0"]), _grads(m.netG0, g["g0"]))
        # the total is L_G0 + L_G1, and L_G1 alone never reaches G0
        assert torch.isclose(g["g"], g["g0"] + g["g1"])
        assert all(t.abs().sum() == 0 for t in _grads(m.netG0, g["g1"]))
    g1_small, g0_small = grads[0.01]
    g1_full, g0_full = grads[1.0]
    assert any(t.abs().sum() > 0 for t in g1_full)
    for a, b in zip(g1_small, g1_full):
        assert torch.allclose(a, 0.01 * b, rtol=1e-4, atol=1e-10)
    for a, b in zip(g0_small, g0_full):  # G0's own gradient is not scaled
        assert torch.allclose(a, b)
    # independent: G0 is fed real features, and its loss never reaches G1
    m, nets = _nets(base)
    z = sample_noise(base, 6, "cpu")
    gen = forward_generators(nets, base, x, y, z, joint=False, num_classes=10)
    assert torch.equal(gen["h1_in"], m.netE.features(x))
    g = generator_losses(nets, base, y, gen, z)
    assert all(t.abs().sum() == 0 for t in _grads(m.netG1, g["g0"]))


def test_a_loss_weight_of_zero_switches_off_exactly_its_term():
    base = build_config("sgan", "smoke").model
    x, y = torch.rand(6, 1, 28, 28) * 2 - 1, torch.arange(6) % 10
    out = {}
    for name, cfg in (("full", base), ("no-ent", dataclasses.replace(base, ent_weight=0.0)),
                      ("no-cond", dataclasses.replace(base, cond_weight=0.0))):
        m, nets = _nets(cfg)
        z = sample_noise(cfg, 6, "cpu")
        gen = forward_generators(nets, cfg, x, y, z, joint=False, num_classes=10)
        out[name] = generator_losses(nets, cfg, y, gen, z)
    f = out["full"]
    assert torch.isclose(f["g0"], f["adv0"] + f["cond0"] + 10 * f["ent0"])
    assert torch.isclose(f["g1"], f["adv1"] + f["cond1"] + 10 * f["ent1"])
    assert torch.isclose(out["no-ent"]["g0"], f["adv0"] + f["cond0"])
    assert torch.isclose(out["no-cond"]["g0"], f["adv0"] + 10 * f["ent0"])
    assert torch.isclose(out["no-cond"]["g1"], f["adv1"] + 10 * f["ent1"])


@pytest.mark.parametrize("joint", [False, True])
def test_entropy_loss_gradient_reaches_g0_and_g1_with_its_declared_weight(joint):
    """Issue #26: L_ent's gradient on each generator is λ_ent times the gradient of its own level's entropy loss
    (nothing detaches it, D is only a fixed function), and it is not zero."""
    cfg = build_config("sgan", "smoke").model
    x, y = torch.rand(6, 1, 28, 28) * 2 - 1, torch.arange(6) % 10
    grads = {}
    for w in (cfg.ent_weight, 0.0):
        c = dataclasses.replace(cfg, ent_weight=w)
        m, nets = _nets(c)
        z = sample_noise(c, 6, "cpu")
        gen = forward_generators(nets, c, x, y, z, joint=joint, num_classes=10)
        g = generator_losses(nets, c, y, gen, z)
        grads[w] = {G: _grads(getattr(m, G), g["g"]) for G in ("netG0", "netG1")}
        if w:  # ent1 never reaches G0; ent0 reaches G1 only in the joint phase, scaled by 0.01 (scale_grad)
            ent = {G: _grads(getattr(m, G), g["ent0"] + g["ent1"]) for G in ("netG0", "netG1")}
            own = {G: _grads(getattr(m, G), g[f"ent{G[-1]}"]) for G in ("netG0", "netG1")}
    assert cfg.ent_weight == 10.0
    for G in ("netG0", "netG1"):
        diff = [a - b for a, b in zip(grads[cfg.ent_weight][G], grads[0.0][G])]
        assert sum(float(o.abs().sum()) for o in own[G]) > 0, f"L_ent does not reach {G}"
        for d, e in zip(diff, ent[G]):
            torch.testing.assert_close(d, cfg.ent_weight * e, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("init", ["normal", "kaiming"])
def test_q0_recovers_z0_on_a_toy_generator_that_encodes_it(init):
    """Issue #26: D0's trunk and Q0 head, trained on λ_ent·L_ent alone at the quick rates (trunk 1e-3, head
    1e-2), read z0 back from images that encode it (x = tanh(3·A(z0 − ½)), A fixed and random) to well below
    1/12, chance for U[0, 1]; so neither the architecture nor the loss keeps Q0 at chance by itself."""
    from core.models.sgan import ImageDiscriminator
    torch.manual_seed(0)
    A = torch.randn(50, 28 * 28) / 50 ** 0.5 * 3
    D = ImageDiscriminator(1, 28, (16, 32, 64), 256, 50, init)
    opt = torch.optim.Adam([{"params": [p for n, p in D.named_parameters() if not n.startswith("q.")], "lr": 1e-3},
                            {"params": D.q.parameters(), "lr": 1e-2}], betas=(0.5, 0.999))
    draw = lambda z: torch.tanh((z - 0.5) @ A).view(-1, 1, 28, 28)  # noqa: E731
    for _ in range(80):
        z = torch.rand(64, 50)
        loss = 10 * entropy_loss(D(draw(z))[1], z)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z = torch.rand(500, 50)
        assert entropy_loss(D(draw(z))[1], z) < 0.5 / 12


def test_the_reference_discriminator_init_shrinks_the_signal_and_kaiming_keeps_it():
    """What docs/sgan.md measured (issue #26): at N(0, 0.02) (the reference code's init) D0's trunk passes on
    1/300-1/400 of its input's spread across samples, at the quick widths; d_init="kaiming" keeps it within a
    small factor. An unknown init is refused."""
    from core.models.sgan import ImageDiscriminator
    torch.manual_seed(0)
    x = torch.rand(256, 1, 28, 28) * 2 - 1
    spread = {}
    for init in ("normal", "kaiming"):
        D = ImageDiscriminator(1, 28, (16, 32, 64), 256, 50, init)
        with torch.no_grad():
            spread[init] = float(D.trunk(x).std(0).mean() / x.std(0).mean())
    assert spread["normal"] < 0.02 and spread["kaiming"] > 0.2
    # quick takes He on mnist5k and on shapes (issue #26: sweeps sgan-mnist5k-d1, sgan-shapes-mbstd); paper the reference's
    assert build_config("sgan", "quick").model.d_init == "kaiming"
    assert build_config("sgan", "quick", dataset="shapes").model.d_init == "kaiming"
    assert build_config("sgan", "paper").model.d_init == "normal"
    with pytest.raises(ConfigError, match="d_init"):
        SGAN(dataclasses.replace(build_config("sgan", "smoke").model, d_init="xavier"), MNIST)


def test_each_ablation_row_changes_exactly_its_settings():
    rows = {r.id: r for r in TABLE.rows_for("quick")}
    full = build_config("sgan", "quick", rows["sgan"].unit.overrides).model
    total = full.independent_steps + full.joint_steps
    expected = {
        "sgan": {},
        "sgan-no-joint": {"independent_steps": total, "joint_steps": 0},
        "dcgan-adv-cond-ent": {"stack": False, "independent_steps": total, "joint_steps": 0},
        "dcgan-adv-cond": {"stack": False, "independent_steps": total, "joint_steps": 0, "ent_weight": 0.0},
        "dcgan-adv-ent": {"stack": False, "independent_steps": total, "joint_steps": 0, "cond_weight": 0.0},
        "dcgan-adv": {"stack": False, "independent_steps": total, "joint_steps": 0, "cond_weight": 0.0,
                      "ent_weight": 0.0},
        "sgan-no-ent": {"ent_weight": 0.0},
        "sgan-no-d1": {"d1": False, "independent_steps": 0, "joint_steps": total},
    }
    assert set(rows) == set(expected)
    for rid, changes in expected.items():
        cfg = build_config("sgan", "quick", rows[rid].unit.overrides).model
        diff = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
                if getattr(cfg, f.name) != getattr(full, f.name)}
        assert diff == changes, rid
        assert rows[rid].unit.parent.model == "sgan-encoder" and rows[rid].unit.frozen_modules == ("netE",)
    # every claim compares rows of the table on a metric the table computes
    for c in TABLE.claims:
        assert {c.better, *c.worse} <= set(rows)
    # the single GAN has no G1 or D1; the stack without D1 has G1 but no D1
    single = SGAN(build_config("sgan", "quick", rows["dcgan-adv"].unit.overrides).model, MNIST)
    no_d1 = SGAN(build_config("sgan", "quick", rows["sgan-no-d1"].unit.overrides).model, MNIST)
    assert not hasattr(single, "netG1") and not hasattr(single, "netD1")
    assert hasattr(no_d1, "netG1") and not hasattr(no_d1, "netD1")


def test_shapes_gets_its_own_quick_rates_and_every_other_field_stays_the_presets(tmp_path):
    """ModelSpec.dataset_presets: sgan quick on shapes takes the settings chosen on the shapes val split; nothing else
    changes, a dotted override still wins, and the table's cells on shapes carry them."""
    from bench.cells import unit_config

    mnist, shapes = build_config("sgan", "quick").model, build_config("sgan", "quick", dataset="shapes").model
    diff = {f.name for f in dataclasses.fields(mnist) if getattr(mnist, f.name) != getattr(shapes, f.name)}
    assert diff == {"lr", "d_lr", "q_lr_scale", "d0_mbstd", "steps_scale"}
    assert (shapes.lr, shapes.d_lr, shapes.q_lr_scale, shapes.d_init) == (2e-4, 2e-4, 10.0, "kaiming")
    assert (mnist.lr, mnist.d_lr, mnist.q_lr_scale, mnist.d_init, mnist.d1_lr_scale) == (1e-4, 1e-4, 100.0, "kaiming",
                                                                                         10.0)
    # issue #26 (sweeps sgan-shapes-mbstd, sgan-shapes-b32): D1 x10, D0's minibatch-std channel, 2x updates, batch 32
    assert (shapes.d1_lr_scale, shapes.d0_mbstd, shapes.steps_scale) == (10.0, True, 2.0)
    assert (mnist.d0_mbstd, mnist.steps_scale) == (False, 1.0)
    assert build_config("sgan", "quick", dataset="shapes").batch_size == 32 != build_config("sgan", "quick").batch_size
    assert build_config("sgan", "quick", {"dataset": "shapes"}).model.d_lr == 2e-4  # --set dataset=shapes
    assert build_config("sgan", "quick", {"model.lr": 5e-5}, dataset="shapes").model.lr == 5e-5
    assert build_config("sgan", "smoke", dataset="shapes").model.lr == build_config("sgan", "smoke").model.lr
    # the report's notes give the rates of the dataset the table ran on
    assert "G learns at 2e-4, D at 2e-4 and its Q heads at 2e-3" in TABLE.notes("quick", "shapes")
    assert "G learns at 1e-4, D at 1e-4 and its Q heads at 1e-2" in TABLE.notes("quick", "mnist5k")
    row = {r.id: r for r in TABLE.rows_for("quick")}["sgan-no-ent"]
    cell = unit_config(row.unit, "quick", 3, "shapes", "cpu", tmp_path)
    assert (cell.model.d_lr, cell.model.ent_weight, cell.dataset) == (2e-4, 0.0, "shapes")


def test_inconsistent_configs_are_refused():
    with pytest.raises(ConfigError, match="independent_steps=0"):
        SGAN(SganConfig(d1=False), MNIST)
    with pytest.raises(ConfigError, match="no joint phase"):
        SGAN(SganConfig(stack=False, joint_steps=10), MNIST)
    with pytest.raises(ConfigError, match="class labels"):
        SGAN(SganConfig(), DataInfo(channels=1, resolution=28))


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sgan")
    enc = train(build_config("sgan-encoder", "smoke"), root / "enc", progress=False)
    full = train(build_config("sgan", "smoke", {"frozen": [f"netE={enc}:netE"]}), root / "sgan", progress=False)
    single = train(build_config("sgan", "smoke", {"frozen": [f"netE={enc}:netE"], "model.stack": False,
                                                  "model.joint_steps": 0}), root / "single", progress=False)
    no_d1 = train(build_config("sgan", "smoke", {"frozen": [f"netE={enc}:netE"], "model.d1": False,
                                                 "model.independent_steps": 0}), root / "no-d1", progress=False)
    return {"enc": enc, "sgan": full, "single": single, "no-d1": no_d1}


def _log(run):
    return [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if '"event"' not in l]


def test_smoke_training_runs_independent_then_joint_and_never_changes_the_encoder(smoke_runs):
    log = _log(smoke_runs["sgan"])
    assert [r["phase"] for r in log] == ["independent"] * 3 + ["joint"] * 2
    assert {"adv0", "cond0", "ent0", "adv1", "cond1", "ent1", "d0_real", "d1_real"} <= set(log[-1])
    enc = load_file(str(smoke_runs["enc"] / "checkpoints" / "final" / "model.safetensors"))
    got = load_file(str(smoke_runs["sgan"] / "checkpoints" / "final" / "model.safetensors"))
    assert enc and all(torch.equal(got[k], v) for k, v in enc.items())
    assert enc["netE.raw_rms"] > 0 and enc["netE.fc3_rms"] == SganEncoderConfig().fc3_rms  # carried over
    assert [r["phase"] for r in _log(smoke_runs["no-d1"])] == ["joint"] * 2
    assert "adv1" not in _log(smoke_runs["no-d1"])[-1] and "cond1" in _log(smoke_runs["no-d1"])[-1]
    assert [r["phase"] for r in _log(smoke_runs["single"])] == ["independent"] * 3


def test_generation_is_addressed_by_seed_and_z1_fixes_fc3(smoke_runs):
    pipe = Pipeline.from_checkpoint(smoke_runs["sgan"])
    assert pipe.conditions == ("label",) and pipe.noise_names == ("z1", "z0")
    a = pipe.generate(labels=[3, 3, 7], seeds=[0, 1, 2])
    b = pipe.generate(labels=[3, 3, 7], seeds=[0, 1, 2])
    assert torch.equal(a["image"], b["image"]) and a["image"].shape == (3, 1, 16, 16)
    fixed = pipe.generate(labels=[3] * 4, seeds={"z1": [5] * 4, "z0": range(4)})
    assert torch.equal(fixed["fc3"], fixed["fc3"][:1].expand(4, -1))  # one fc3 for the strip
    single = Pipeline.from_checkpoint(smoke_runs["single"])
    assert single.noise_names == ("z0",) and single.generate(labels=[1, 2], seeds=[0, 1])["image"].shape[0] == 2
    with pytest.raises(ValueError, match="makes no images"):
        Pipeline.from_checkpoint(smoke_runs["enc"])


def test_the_paper_figures_are_drawn_from_a_checkpoint(smoke_runs, tmp_path):
    from PIL import Image

    from bench import sgan_figures

    out = tmp_path / "fig"
    assert sgan_figures.main(["--checkpoint", str(smoke_runs["sgan"]), "--noent", str(smoke_runs["sgan"]),
                              "--out", str(out), "--no-scores"]) == 0
    classes = Image.open(out / "classes.png")
    fixed = Image.open(out / "fixed_fc3.png")
    assert classes.size[1] > fixed.size[1] // 2 > 0  # ten class rows; five classes × two models
    assert (out / "decomposition.png").is_file() and "Fig. 2c/d" in (out / "README.md").read_text()
    assert sgan_figures.main(["--checkpoint", str(smoke_runs["single"]), "--out", str(out), "--no-scores"]) == 2


def test_discriminator_and_q_heads_learn_at_their_own_rates(smoke_runs, tmp_path):
    """d_lr and q_lr_scale reach the trainer: Adam's first step moves each weight by about its rate (the
    update is lr·g/(|g| + ε)), so after one step the Q heads moved ~10× as far as the rest of D, and D 10× as
    far as G."""
    cfg = build_config("sgan", "smoke", {"frozen": [f"netE={smoke_runs['enc']}:netE"], "model.independent_steps": 1,
                                         "model.joint_steps": 0, "model.lr": 1e-4, "model.d_lr": 1e-3,
                                         "model.q_lr_scale": 10.0, "checkpoint_every": 1})
    from core.train import build_model
    info = DataInfo(channels=1, resolution=16, num_classes=10)
    before = {k: v.clone() for k, v in build_model(cfg, info).state_dict().items()}
    after = load_file(str(train(cfg, tmp_path / "run", progress=False) / "checkpoints" / "final" / "model.safetensors"))

    def moved(prefix):
        return max((after[k] - before[k]).abs().max().item() for k in before
                   if k.startswith(prefix) and k.endswith("weight") and "running" not in k)

    assert moved("netD0.q.") == pytest.approx(1e-2, rel=0.05) and moved("netD1.q.") == pytest.approx(1e-2, rel=0.05)
    assert moved("netD0.trunk.") == pytest.approx(1e-3, rel=0.05) and moved("netD0.adv.") == pytest.approx(1e-3, rel=0.05)
    assert moved("netG0.") == pytest.approx(1e-4, rel=0.05)
    # d1_lr_scale: D1's trunk and adversarial head at d_lr × it; its Q head keeps d_lr × q_lr_scale; D0 unchanged
    cfg = build_config("sgan", "smoke", {"frozen": [f"netE={smoke_runs['enc']}:netE"], "model.independent_steps": 1,
                                         "model.joint_steps": 0, "model.lr": 1e-4, "model.d_lr": 1e-4,
                                         "model.q_lr_scale": 100.0, "model.d1_lr_scale": 10.0,
                                         "checkpoint_every": 1})
    before = {k: v.clone() for k, v in build_model(cfg, info).state_dict().items()}
    after = load_file(str(train(cfg, tmp_path / "run2", progress=False) / "checkpoints" / "final" / "model.safetensors"))
    assert moved("netD1.trunk.") == pytest.approx(1e-3, rel=0.05) and moved("netD1.adv.") == pytest.approx(1e-3, rel=0.05)
    assert moved("netD1.q.") == pytest.approx(1e-2, rel=0.05) and moved("netD0.trunk.") == pytest.approx(1e-4, rel=0.05)


def test_lr_scale_prefixes_must_match_a_parameter():
    from core.models.base import Optim
    opt = Optim(("netD0",), lr=1e-3, lr_scale=(("netD0.q.", 10.0),))
    w, q = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    groups = opt.param_groups([("netD0.trunk.0.weight", w), ("netD0.q.0.weight", q)])
    assert [(g["lr_scale"], len(g["params"])) for g in groups] == [(10.0, 1), (1.0, 1)] and groups[0]["params"][0] is q
    with pytest.raises(ConfigError, match="match no parameter"):
        Optim(("netD0",), lr=1e-3, lr_scale=(("netD9.", 2.0),)).param_groups([("netD0.w", w)])
    with pytest.raises(ConfigError, match="> 0"):
        Optim(("netD0",), lr=1e-3, lr_scale=(("netD0.", 0.0),))


SHIPPED = Path(__file__).resolve().parent.parent / "results" / "checkpoints"


# (checkpoint, dataset, channels, least share of samples whose class the evaluation classifier reads back, least
# mean pixel change when every seed changes): the shapes models are weaker and nearly collapse within a class
# (docs/sgan.md: measured 0.03 there, 0.1+ on mnist5k); chance is 0.1 on both
SHIPPED_MODELS = [("sgan-mnist5k", "mnist5k", 1, 0.8, 0.05), ("sgan-mnist5k-noent", "mnist5k", 1, 0.8, 0.05),
                  ("sgan-shapes", "shapes", 3, 0.4, 0.01), ("sgan-shapes-noent", "shapes", 3, 0.4, 0.01)]


@pytest.mark.parametrize("name,dataset,channels,min_acc,min_change", SHIPPED_MODELS)
def test_the_shipped_models_generate_by_seed_and_draw_the_asked_class(name, dataset, channels, min_acc, min_change):
    """The demo's models: the same seeds give the same images, other seeds other images, and the evaluation
    classifier (independent of SGAN's E) reads back the asked class for most samples."""
    from core.metrics.classifiers import load_classifier
    pipe = Pipeline.from_checkpoint(SHIPPED / name)
    assert pipe.conditions == ("label",) and pipe.noise_names == ("z1", "z0") and pipe.cfg.dataset == dataset
    labels = [c for c in range(10) for _ in range(4)]
    a = pipe.generate(labels=labels, seeds=range(40))["image"]
    assert a.shape == (40, channels, 28, 28)
    assert torch.equal(a, pipe.generate(labels=labels, seeds=range(40))["image"])
    assert (a - pipe.generate(labels=labels, seeds=range(100, 140))["image"]).abs().mean() > min_change
    clf = load_classifier(dataset)
    _, pred = clf.net.predict(((a + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
    assert (pred[clf.is_head] == torch.tensor(labels)).float().mean() >= min_acc


# Issue #26's gate on what the demo shows (Fig. 2c/d), declared before the retrained models existed: with L_ent,
# re-drawing z0 at a fixed fc3 moves each pixel by a standard deviation of at least 0.05 in [0, 1] units. The
# models shipped before #26 measured 0.038 (mnist5k), so this test failed on them, and so did the C1 pilot's
# seed-0 SGAN (0.045); the shipped model of the pilot with D1 at 1e-3 measures 0.072, and the shapes model of the
# #26 shapes pilot 0.060 (the shapes model before it: 0.0074).
Z0_SPREAD_MIN = 0.05


@pytest.mark.parametrize("name", ["sgan-mnist5k", "sgan-shapes"])
def test_the_shipped_sgan_uses_z0_at_a_fixed_fc3(name):
    from bench.sgan_figures import z0_spread

    pipe = Pipeline.from_checkpoint(SHIPPED / name)
    assert z0_spread(pipe, fc3_per_class=2) == z0_spread(pipe, fc3_per_class=2)  # fixed seeds: one number
    assert z0_spread(pipe) >= Z0_SPREAD_MIN


def test_z0_spread_is_zero_for_a_generator_that_ignores_z0(smoke_runs):
    """The spread reads z0's effect alone: with the weights of G0's z0 embedding zeroed, G0 draws the same image
    for every z0 (the embedding's bias and eval-mode batch norm leave a constant)."""
    from bench.sgan_figures import z0_spread

    pipe = Pipeline.from_checkpoint(smoke_runs["sgan"])
    assert z0_spread(pipe, fc3_per_class=1) > 0
    with torch.no_grad():
        pipe.model.netG0.noise[0].weight.zero_()  # Linear(z0 -> z_fc)
    assert z0_spread(pipe, fc3_per_class=1) == pytest.approx(0.0, abs=1e-7)


def test_the_table_gates_rows_without_the_entropy_loss_on_realism_only():
    """Rows without L_ent are the paper's predicted collapse: their diversity and recall are the entropy claims'
    outcome, so they are gated on FID alone; rows with L_ent also on diversity, recall and their Q heads."""
    from bench.tables.sgan import TABLE

    gates = {r.id: {g.metric for g in r.gates} for r in TABLE.rows_for("quick")}
    for row in ("sgan-no-ent", "dcgan-adv-cond", "dcgan-adv"):
        assert gates[row] == {"fid"}
    assert gates["sgan"] == {"fid", "diversity", "recall", "log:ent0", "log:ent1"}
    assert gates["dcgan-adv-cond-ent"] == {"fid", "diversity", "recall", "log:ent0"}  # one level: Q0 only
    assert gates["sgan-no-d1"] == {"fid", "diversity", "recall", "log:ent0"}  # no D1, so no Q1


def test_steps_scale_multiplies_every_rows_phases_and_keeps_their_shares():
    # a dataset preset that scales the budget (shapes at quick) must give every row the full SGAN's number of
    # updates times the scale, including the rows that set their steps themselves (no-joint, single, no-D1)
    from core.models.sgan import SPEC

    def steps(row, scale):
        over = {**row.unit.overrides, "model.steps_scale": scale}
        return [p.steps for p in SPEC.phases(build_config("sgan", "quick", over))]

    totals = {}
    for row in TABLE.rows_for("quick"):
        one, two = steps(row, 1.0), steps(row, 2.0)
        assert two == [2 * s for s in one], row.id
        totals[row.id] = sum(two)
    assert len(set(totals.values())) == 1, totals  # every row: the same total
    with pytest.raises(ConfigError, match="steps_scale"):
        SGAN(SganConfig(steps_scale=0.0), DataInfo(channels=1, resolution=28, num_classes=10))

"""StackGAN: shapes at every stage and preset, CA and text-twice switches, KL, frozen Stage-I,
parameter counts against the reference architecture, smoke training, seeded generation, init_from."""
import contextlib
import json
import math

import pytest
import torch
from safetensors.torch import load_file

from core.config import ConfigError
from core.models import DataInfo, StepContext
from core.models.stackgan import SPEC, StackGANConfig, _phases, _train_step
from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import train

SMOKE_INFO = DataInfo(channels=3, resolution=16, embed_dim=12, num_classes=4)


def smoke(**overrides):
    return build_config("stackgan", "smoke", overrides)


def build(cfg, info=SMOKE_INFO):
    torch.manual_seed(0)
    return SPEC.build(cfg.model, info)


def noise(cfg, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(n, *s, generator=g) for k, s in SPEC.noise_shapes(cfg.model).items()}


def one_step(cfg, model, phase_name="stage1", info=SMOKE_INFO, B=4, seed=0):
    """Run one training step of ``phase_name`` outside the loop; return the logged losses."""
    phase = next(p for p in _phases(cfg) if p.name == phase_name)
    for name, m in model.named_children():
        m.requires_grad_(name in phase.trainable())
        m.train(name in phase.trainable())
    opts = {role: torch.optim.Adam([p for n in o.modules for p in getattr(model, n).parameters()], lr=1e-4)
            for role, o in phase.optimize.items()}
    g = torch.Generator().manual_seed(seed)
    R, E = info.resolution, info.embed_dim
    batch = {"image": torch.rand(B, info.channels, R, R, generator=g) * 2 - 1,
             "text": torch.randn(B, E, generator=g), "wrong_text": torch.randn(B, E, generator=g)}
    ctx = StepContext(dict(model.named_children()), opts, phase, 0, cfg, contextlib.nullcontext)
    _train_step(batch, ctx)
    return ctx.losses


# ------------------------------------------------------------------------------------------ shapes

@pytest.mark.parametrize("preset,info", [
    ("smoke", SMOKE_INFO),
    ("quick", DataInfo(3, 64, 384, 10)),
    ("paper", DataInfo(3, 256, 1024, 200)),
])
def test_output_shapes_at_every_stage(preset, info):
    cfg = build_config("stackgan", preset)
    r1, R, B = cfg.model.stage1_resolution, info.resolution, 2
    assert R == cfg.resolution
    with torch.device("meta") if preset == "paper" else contextlib.nullcontext():  # paper: shapes only
        model = SPEC.build(cfg.model, info).eval()
        emb = torch.zeros(B, info.embed_dim)
        out = SPEC.generate(model, {"text": emb}, {k: torch.zeros(B, *s) for k, s in SPEC.noise_shapes(cfg.model).items()})
        assert out["stage1"].shape == (B, 3, r1, r1)
        assert out["image"].shape == (B, 3, R, R)
        d1, u1 = model.netD1(out["stage1"], emb)
        d2, u2 = model.netD2(out["image"], emb)
    assert d1.shape == (B,) and d2.shape == (B,) and u1 is None and u2 is None
    if preset != "paper":
        assert out["image"].abs().max() <= 1 and torch.isfinite(out["image"]).all()


@pytest.mark.parametrize("res,r1,stages", [(32, 16, 2), (64, 64, 1), (16, 16, 1)])
def test_table2_variants_build(res, r1, stages):
    """Quick-scale rows of Table 2: the middle resolution, and single-stage GANs at low and high res."""
    cfg = build_config("stackgan", "quick", {"resolution": res, "model.stage1_resolution": r1,
                                             "model.stages": stages, "model.num_residual": 2})
    info = DataInfo(3, res, 384, 10)
    model = build(cfg, info).eval()
    out = SPEC.generate(model, {"text": torch.randn(2, 384)}, noise(cfg, 2))
    assert out["image"].shape == (2, 3, res, res)
    assert ("stage1" in out) == (stages == 2)
    assert [p.name for p in _phases(cfg)] == (["stage1", "stage2"] if stages == 2 else ["stage1"])
    assert hasattr(model, "netG2") == (stages == 2)


@pytest.mark.parametrize("down,joint", [(2, 4), (1, 8), (0, 16)])
def test_stage2_encoder_depth_sets_the_joint_resolution(down, joint):
    """``stage2_encoder_down`` = number of stride-2 convs: a 16-px Stage-I image meets the text at
    16 / 2**down, and the up-blocks still reach the final resolution."""
    cfg = build_config("stackgan", "quick", {"model.stage2_encoder_down": down})
    model = build(cfg, DataInfo(3, 64, 384, 10)).eval()
    h = model.netG2.encoder(torch.zeros(2, 3, 16, 16))
    assert h.shape == (2, 4 * cfg.model.ngf2, joint, joint)
    assert len(model.netG2.up) == int(math.log2(64 // joint))
    assert SPEC.generate(model, {"text": torch.randn(2, 384)}, noise(cfg, 2))["image"].shape == (2, 3, 64, 64)
    with pytest.raises(ConfigError, match="stage2_encoder_down"):
        StackGANConfig(stage2_encoder_down=3)


def test_bad_configs_fail_early():
    with pytest.raises(ConfigError, match="stage1_resolution=16"):
        build(smoke(**{"model.stages": 1}))  # single stage at 16 but stage1_resolution 8
    with pytest.raises(ConfigError, match="must exceed"):
        build(smoke(**{"model.stage1_resolution": 16}))
    with pytest.raises(ConfigError, match="kl_reduction"):
        StackGANConfig(kl_reduction="avg")
    with pytest.raises(ConfigError, match="d_condition"):
        smoke(**{"model.d_condition": "text"})


# ------------------------------------------------------------------------------------------ CA and KL

def _set_ca(ca, mu: float, logvar: float):
    """Make a CA output constant μ and log σ² (positive values pass its LeakyReLU unchanged)."""
    with torch.no_grad():
        ca.fc.weight.zero_()
        ca.fc.bias.copy_(torch.tensor([mu] * ca.cond_dim + [logvar] * ca.cond_dim))


@pytest.mark.parametrize("reduction,weight", [("sum", 1.0), ("mean", 2.0)])
def test_kl_term_matches_closed_form(reduction, weight):
    cfg = smoke(**{"model.kl_reduction": reduction, "model.kl_weight": weight})
    model = build(cfg)
    mu, sigma = 0.5, 2.0
    _set_ca(model.ca1, mu, math.log(sigma ** 2))
    # KL(N(μ, σ²) ‖ N(0, 1)) per dim = ½(μ² + σ² − 1 − ln σ²) = ½(0.25 + 4 − 1 − ln 4)
    per_dim = 0.5 * (mu ** 2 + sigma ** 2 - 1 - math.log(sigma ** 2))
    expected = per_dim * (cfg.model.cond_dim if reduction == "sum" else 1)
    logged = one_step(cfg, model)
    assert logged["kl"] == pytest.approx(expected, rel=1e-5)
    assert logged["loss_g"] == pytest.approx(logged["g_adv"] + weight * expected, rel=1e-5)


def test_kl_warmup_ramps_the_weight():
    cfg = smoke(**{"model.kl_warmup_steps": 4})
    model = build(cfg)
    _set_ca(model.ca1, 0.5, 1.0)
    logged = one_step(cfg, model)  # step 0 of stage1: λ = 1/4
    assert logged["loss_g"] == pytest.approx(logged["g_adv"] + 0.25 * logged["kl"], rel=1e-5)


def test_ca_on_samples_and_ca_off_removes_noise_and_kl():
    for ca in (True, False):
        cfg = smoke(**{"model.ca": ca})
        model = build(cfg).eval()
        emb = torch.randn(3, 12)
        a, b = noise(cfg, 3, seed=1), noise(cfg, 3, seed=2)
        b["z"] = a["z"]  # same z, different ε1 and ε2
        out_a, out_b = SPEC.generate(model, {"text": emb}, a), SPEC.generate(model, {"text": emb}, b)
        same = torch.equal(out_a["image"], out_b["image"]) and torch.equal(out_a["stage1"], out_b["stage1"])
        assert same == (not ca)
        for phase in ("stage1", "stage2"):
            logged = one_step(cfg, build(cfg), phase)
            assert ("kl" in logged) == ca
            if not ca:
                assert logged["loss_g"] == logged["g_adv"]


def test_zero_eps_gives_the_ca_mean():
    cfg = smoke()
    model = build(cfg).eval()
    emb = torch.randn(2, 12)
    nz = noise(cfg, 2)
    nz["eps1"].zero_()
    mu = model.ca1(emb)[1]
    torch.testing.assert_close(SPEC.generate(model, {"text": emb}, nz)["stage1"], model.netG1(mu, nz["z"]), rtol=0, atol=0)
    with pytest.raises(ValueError, match="eps2"):
        SPEC.generate(model, {"text": emb}, {"z": nz["z"], "eps1": nz["eps1"]})


# ------------------------------------------------------------------------------------------ text twice

class _FixedImage(torch.nn.Module):
    def __init__(self, image):
        super().__init__()
        self.image = image

    def forward(self, condition, z):
        return self.image.expand(condition.shape[0], -1, -1, -1)


@pytest.mark.parametrize("text_twice", [True, False])
def test_text_twice_off_removes_text_from_stage2(text_twice):
    cfg = smoke(**{"model.text_twice": text_twice})
    model = build(cfg).eval()
    model.netG1 = _FixedImage(torch.rand(1, 3, 8, 8) * 2 - 1)  # the same Stage-I image for every text
    nz = noise(cfg, 1)
    out_a = SPEC.generate(model, {"text": torch.randn(1, 12)}, nz)["image"]
    out_b = SPEC.generate(model, {"text": torch.randn(1, 12)}, nz)["image"]
    assert torch.equal(out_a, out_b) == (not text_twice)
    assert hasattr(model, "ca2") == text_twice
    phase2 = next(p for p in _phases(cfg) if p.name == "stage2")
    assert ("ca2" in phase2.trainable()) == text_twice


# ------------------------------------------------------------------------------------------ code variants

def test_pytorch_code_variant_trains_one_step_per_stage():
    """D conditioned on G's CA μ, 3×3 head, Stage-II unconditional logit (StackGAN-Pytorch)."""
    cfg = smoke(**{"model.d_condition": "mu", "model.d_head_kernel": 3, "model.stage2_uncond_head": True})
    model = build(cfg)
    assert model.netD2.uncond is not None and model.netD1.uncond is None
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for phase in ("stage1", "stage2"):
        logged = one_step(cfg, model, phase)
        assert all(math.isfinite(v) for v in logged.values())
    after = model.state_dict()
    assert not torch.equal(before["netD2.uncond.weight"], after["netD2.uncond.weight"])
    assert not torch.equal(before["ca2.fc.weight"], after["ca2.fc.weight"])


def test_text_twice_off_with_mu_condition_uses_stage1_mu():
    cfg = smoke(**{"model.d_condition": "mu", "model.text_twice": False})
    logged = one_step(cfg, build(cfg), "stage2")
    assert math.isfinite(logged["loss_d"]) and "kl" not in logged  # no learning CA in Stage-II


# ------------------------------------------------------------------------------------------ parameter counts

def _conv(k, cin, cout, bias=False):
    return k * k * cin * cout + (cout if bias else 0)


def _bn(c):
    return 2 * c


def _linear(i, o, bias=True):
    return i * o + (o if bias else 0)


def reference_counts(E=1024, Ng=128, Nz=100, gf=128, df=64, r_num=4, d_fc=None, head_k=3):
    """Parameter counts of StackGAN-Pytorch's CUB-width architecture (code/model.py at GF_DIM, DF_DIM),
    written out layer by layer: CA_NET, STAGE1_G (without its CA), STAGE1_D, STAGE2_G (without the
    Stage-I G it holds), STAGE2_D (with its unconditional head). ``d_fc``/``head_k`` give the paper's
    D head instead (FC of the embedding to N_d, 1×1 joint conv)."""
    ca = _linear(E, 2 * Ng)
    g1_top = gf * 8
    g1 = _linear(Ng + Nz, g1_top * 16, bias=False) + _bn(g1_top * 16)
    for i in range(4):  # upsample1..4: 8gf → 4gf → 2gf → gf → gf/2
        g1 += _conv(3, g1_top >> i, g1_top >> (i + 1)) + _bn(g1_top >> (i + 1))
    g1 += _conv(3, gf // 2, 3)

    def head(feat):
        cond = d_fc if d_fc else Ng
        fc = _linear(E, d_fc) if d_fc else 0
        return fc + _conv(head_k, feat + cond, feat) + _bn(feat) + _conv(4, feat, 1, bias=True)

    d1 = _conv(4, 3, df)
    for i in range(3):  # ndf → 2 → 4 → 8 ndf
        d1 += _conv(4, df << i, df << (i + 1)) + _bn(df << (i + 1))
    d1 += head(8 * df)

    g2 = _conv(3, 3, gf) + _conv(4, gf, 2 * gf) + _bn(2 * gf) + _conv(4, 2 * gf, 4 * gf) + _bn(4 * gf)
    g2 += _conv(3, 4 * gf + Ng, 4 * gf) + _bn(4 * gf)
    g2 += r_num * 2 * (_conv(3, 4 * gf, 4 * gf) + _bn(4 * gf))
    for cin, cout in [(4 * gf, 2 * gf), (2 * gf, gf), (gf, gf // 2), (gf // 2, gf // 4)]:
        g2 += _conv(3, cin, cout) + _bn(cout)
    g2 += _conv(3, gf // 4, 3)

    d2 = _conv(4, 3, df)
    for i in range(5):  # ndf → ... → 32 ndf at 4×4
        d2 += _conv(4, df << i, df << (i + 1)) + _bn(df << (i + 1))
    d2 += _conv(3, 32 * df, 16 * df) + _bn(16 * df) + _conv(3, 16 * df, 8 * df) + _bn(8 * df)
    d2 += head(8 * df) + _conv(4, 8 * df, 1, bias=True)  # + unconditional head
    return {"ca1": ca, "netG1": g1, "netD1": d1, "ca2": ca, "netG2": g2, "netD2": d2}


def _paper_counts(**overrides):
    cfg = build_config("stackgan", "paper", overrides)
    with torch.device("meta"):
        model = SPEC.build(cfg.model, DataInfo(3, 256, 1024, 200))
    return {n: sum(p.numel() for p in m.parameters()) for n, m in model.named_children()}


def test_paper_parameter_counts_match_the_reference_code():
    ours = _paper_counts(**{"model.d_condition": "mu", "model.d_head_kernel": 3, "model.stage2_uncond_head": True})
    assert ours == reference_counts()
    assert sum(ours.values()) == 113_576_163  # the number stated in docs/stackgan.md


def test_paper_default_heads_match_the_paper_formula():
    ours = _paper_counts()
    ref = reference_counts(d_fc=128, head_k=1)
    ref["netD2"] -= _conv(4, 8 * 64, 1, bias=True)  # no unconditional head in the paper
    assert ours == ref


# ------------------------------------------------------------------------------------------ training

@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    cfg = smoke(**{"dataset": "shapes", "sample_every": 100})
    return train(cfg, tmp_path_factory.mktemp("sg") / "run", progress=False)


def _weights(run, name):
    return load_file(str(run / "checkpoints" / name / "model.safetensors"))


def test_smoke_training_runs_both_stages(smoke_run):
    log = [json.loads(l) for l in (smoke_run / "log.jsonl").read_text().splitlines()]
    phases = [r["phase"] for r in log if "phase" in r]
    assert phases == ["stage1", "stage1", "stage2", "stage2"]
    assert all(math.isfinite(r["loss_g"]) and math.isfinite(r["loss_d"]) and "kl" in r for r in log if "phase" in r)
    assert log[-1]["event"] == "done"


def test_stage1_is_frozen_during_stage2(smoke_run):
    s1, final = _weights(smoke_run, "phase-stage1"), _weights(smoke_run, "final")
    for k in s1:
        if k.split(".")[0] in ("ca1", "netG1", "netD1"):  # weights AND BN running statistics
            torch.testing.assert_close(final[k], s1[k], rtol=0, atol=0, msg=k)
    for key in ("netG2.to_image.0.weight", "ca2.fc.weight", "netD2.head.out.weight"):
        assert not torch.equal(final[key], s1[key]), key  # Stage-II learned


def test_generation_by_seed_is_deterministic(smoke_run):
    pipe = Pipeline.from_checkpoint(smoke_run)
    emb = torch.randn(3, pipe.info.embed_dim, generator=torch.Generator().manual_seed(0))
    a = pipe.generate(embeddings=emb, seeds=[0, 1, 2])
    b = pipe.generate(embeddings=emb, seeds=[0, 1, 2])
    assert a["image"].shape == (3, 3, 16, 16) and a["stage1"].shape == (3, 3, 8, 8)
    torch.testing.assert_close(a["image"], b["image"], rtol=0, atol=0)
    alone = pipe.generate(embeddings=emb[1:2], seeds=[1])  # a sample does not depend on its batch
    torch.testing.assert_close(alone["image"], a["image"][1:2], rtol=1e-5, atol=1e-6)
    other = pipe.generate(embeddings=emb, seeds=[5, 6, 7])
    assert not torch.equal(other["image"], a["image"])


def test_stage2_only_run_from_a_stage1_run(smoke_run, tmp_path):
    cfg = smoke(**{"dataset": "shapes", "model.stage1_steps": 0, "model.finetune_steps": 2, "sample_every": 100,
                   "init_from": str(smoke_run / "checkpoints" / "phase-stage1"),
                   "init_modules": ["ca1", "netG1", "netD1"]})
    run = train(cfg, tmp_path / "s2", progress=False)
    log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log if "phase" in r] == ["stage2", "stage2", "finetune", "finetune"]
    src, after_s2, final = _weights(smoke_run, "phase-stage1"), _weights(run, "phase-stage2"), _weights(run, "final")
    for k in src:
        if k.split(".")[0] in ("ca1", "netG1", "netD1"):
            torch.testing.assert_close(after_s2[k], src[k], rtol=0, atol=0, msg=k)  # copied, then frozen
    # fine-tuning trains Stage-I G end to end through the Stage-II loss; Stage-I D stays as it was
    assert not torch.equal(final["netG1.to_image.0.weight"], after_s2["netG1.to_image.0.weight"])
    assert torch.equal(final["netD1.head.out.weight"], after_s2["netD1.head.out.weight"])


def test_showcase_draws_and_scores_both_held_out_splits(tmp_path):
    from PIL import Image

    from bench.showcase import main as showcase

    cfg = smoke(**{"dataset": "shapes", "resolution": 32, "model.stage1_resolution": 16, "sample_every": 100})
    run = train(cfg, tmp_path / "run", progress=False)
    out = tmp_path / "show"
    assert showcase(["--checkpoint", str(run), "--out", str(out), "--n", "40"]) == 0
    grid = Image.open(out / "held_out.png")
    assert grid.width > 8 * 32  # four seeds x (Stage-I, Stage-II) per caption, plus the caption column
    assert (out / "interpolation.png").is_file() and (out / "noise.png").is_file()
    record = json.loads((out / "scores.json").read_text())
    assert set(record["scores"]) == {"final", "stage1"} and record["n"] == 40
    for stage in record["scores"].values():
        assert set(stage) == {"test", "test_unseen"}
        for scores in stage.values():
            assert 0 <= scores["cond_acc_shape"] <= 1 and math.isfinite(scores["fid"]) and scores["fid"] > 0
    assert record["scores"]["final"]["test"]["fid"] != record["scores"]["stage1"]["test"]["fid"]


# ------------------------------------------------------------------------------------------ benchmark

QUICK_ROWS = {  # Table 2 at quick scale: (overrides, phase that dominates the row's cost)
    "stage1_16": ({"resolution": 16, "model.stages": 1}, "stage1"),
    "single_64": ({"resolution": 64, "model.stages": 1, "model.stage1_resolution": 64}, "stage1"),
    "stage2_32": ({"resolution": 32, "model.num_residual": 2}, "stage2"),
    "stage2_64": ({"resolution": 64}, "stage2"),
}


@pytest.mark.parametrize("row", sorted(QUICK_ROWS))
def test_quick_step_time(benchmark, row):
    """One training step of each quick-preset row at its batch size, on one thread (how the preset was
    sized; CPU time is robust to other jobs on the machine):
    ``pytest tests/test_stackgan.py -k step_time -o addopts= --benchmark-timer time.process_time``."""
    overrides, phase = QUICK_ROWS[row]
    cfg = build_config("stackgan", "quick", overrides)
    info = DataInfo(3, cfg.resolution, 384, 10)
    model = build(cfg, info)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        logged = benchmark(one_step, cfg, model, phase, info, cfg.batch_size)
    finally:
        torch.set_num_threads(threads)
    assert math.isfinite(logged["loss_g"])

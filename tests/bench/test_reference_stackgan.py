"""bench.reference_stackgan: the StackGAN-Pytorch copy has the reference's parameter counts, derived here
layer by layer by hand (conv k·k·cin·cout [+ cout bias], BN 2·c, linear in·out [+ out bias]); the suite's
StackGAN configured like the reference (PT_STYLE) has the same counts; and the reference step updates
what the reference trainer updates."""
import pytest
import torch

from bench.reference_stackgan import PT_STYLE, build_reference, reference_like, reference_optimizers, reference_step
from core.models import DataInfo
from core.resolve import build_config
from core.train import build_model


def count(module: torch.nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# Parameters of one layer, by hand.
def conv(k, cin, cout, bias=False):
    return k * k * cin * cout + (cout if bias else 0)  # k×k×cin×cout weights (+ cout biases)


def bn(c):
    return 2 * c  # weight and bias


def linear(n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0)


def up(cin, cout):
    return conv(3, cin, cout) + bn(cout)  # nearest ×2, conv3×3 (no bias), BN, ReLU


def down(cin, cout):
    return conv(4, cin, cout) + bn(cout)  # conv4×4 s2 (no bias), BN, LeakyReLU


def cond_head(ch, cond):
    return conv(3, ch + cond, ch) + bn(ch) + conv(4, ch, 1, bias=True)  # [h ‖ μ] conv3×3 + BN, conv4×4 s4 → 1


# The paper / reference defaults: TEXT.DIMENSION 1024, CONDITION_DIM 128, Z_DIM 100, GF_DIM 128, DF_DIM 64,
# R_NUM 4, Stage-I 64 px, Stage-II 256 px.
PAPER = dict(text_dim=1024, cond_dim=128, z_dim=100, gf1=128, df1=64, stage1_resolution=64, gf2=128, df2=64,
             r_num=4, resolution=256)
PAPER_COUNTS = {
    "G1": (linear(1024, 2 * 128)                                    # CA
           + linear(100 + 128, 4 * 4 * 8 * 128, bias=False) + bn(4 * 4 * 8 * 128)  # FC → 4×4×1024, BN1d
           + up(1024, 512) + up(512, 256) + up(256, 128) + up(128, 64)  # 8, 16, 32, 64 px
           + conv(3, 64, 3)),                                       # → image, tanh
    "D1": (conv(4, 3, 64)                                           # 32 px, no BN
           + down(64, 128) + down(128, 256) + down(256, 512)        # 16, 8, 4 px
           + cond_head(512, 128)),
    "G2": (linear(1024, 2 * 128)                                    # Stage-II's own CA (Stage-I G: in G1)
           + conv(3, 3, 128) + down(128, 256) + down(256, 512)      # encoder: 64, 32, 16 px
           + conv(3, 512 + 128, 512) + bn(512)                      # joint [h ‖ ĉ]
           + 4 * 2 * (conv(3, 512, 512) + bn(512))                  # 4 residual blocks of two conv3×3 + BN
           + up(512, 256) + up(256, 128) + up(128, 64) + up(64, 32)  # 32, 64, 128, 256 px
           + conv(3, 32, 3)),
    "D2": (conv(4, 3, 64)                                           # 128 px
           + down(64, 128) + down(128, 256) + down(256, 512) + down(512, 1024) + down(1024, 2048)  # 64 … 4 px
           + conv(3, 2048, 1024) + bn(1024) + conv(3, 1024, 512) + bn(512)  # 3×3 back to 8·DF at 4 px
           + cond_head(512, 128)
           + conv(4, 512, 1, bias=True)),                           # unconditional head
}
# The same, written out as numbers for Stage-I G (the docs quote 10.30M).
assert PAPER_COUNTS["G1"] == (262_144 + 256 + 3_735_552 + 32_768 + 4_718_592 + 1_024 + 1_179_648 + 512
                              + 294_912 + 256 + 73_728 + 128 + 1_728) == 10_301_248

# A small configuration away from the reference's resolutions: text 32, cond 8, z 10, GF 8 / DF 4 at
# 32 px, GF 16 / DF 4 / 2 residual blocks at 128 px (Stage-II joint at 32 / 4 = 8 px, 4 up-blocks).
SMALL = dict(text_dim=32, cond_dim=8, z_dim=10, gf1=8, df1=4, stage1_resolution=32, gf2=16, df2=4, r_num=2,
             resolution=128)
SMALL_COUNTS = {
    "G1": (linear(32, 16) + linear(18, 16 * 64, bias=False) + bn(16 * 64)
           + up(64, 32) + up(32, 16) + up(16, 8) + conv(3, 8, 3)),  # 8, 16, 32 px
    "D1": conv(4, 3, 4) + down(4, 8) + down(8, 16) + cond_head(16, 8),  # 16, 8, 4 px
    "G2": (linear(32, 16) + conv(3, 3, 16) + down(16, 32) + down(32, 64)  # encoder to 8 px
           + conv(3, 64 + 8, 64) + bn(64) + 2 * 2 * (conv(3, 64, 64) + bn(64))
           + up(64, 32) + up(32, 16) + up(16, 8) + up(8, 4) + conv(3, 4, 3)),  # 16 … 128 px
    "D2": (conv(4, 3, 4) + down(4, 8) + down(8, 16) + down(16, 32) + down(32, 64)  # 64 … 4 px: 16·DF
           + conv(3, 64, 32) + bn(32) + cond_head(32, 8) + conv(4, 32, 1, bias=True)),
}


def reference_counts(args: dict) -> dict[str, int]:
    g1, d1 = build_reference(1, **args)
    g2, d2 = build_reference(2, **args)
    return {"G1": count(g1), "D1": count(d1), "G2": count(g2, trainable_only=True), "D2": count(d2)}


@pytest.mark.parametrize("args, expected", [(PAPER, PAPER_COUNTS), (SMALL, SMALL_COUNTS)], ids=["paper", "small"])
def test_reference_has_the_hand_derived_parameter_counts(args, expected):
    assert reference_counts(args) == expected


def test_paper_counts_in_millions():
    """The totals the docs quote: Stage-I G 10.30M, D 5.72M; Stage-II G 26.29M (+ the frozen Stage-I), D 71.27M."""
    assert [round(PAPER_COUNTS[k] / 1e6, 2) for k in ("G1", "D1", "G2", "D2")] == [10.30, 5.72, 26.29, 71.27]


def ours_pt_style(args: dict, preset: str = "paper"):
    """The suite's StackGAN at ``args``'s sizes, configured like the reference."""
    fields = {"model.z_dim": args["z_dim"], "model.cond_dim": args["cond_dim"], "model.ngf1": args["gf1"],
              "model.ndf1": args["df1"], "model.stage1_resolution": args["stage1_resolution"],
              "model.ngf2": args["gf2"], "model.ndf2": args["df2"], "model.num_residual": args["r_num"],
              "model.stage2_encoder_down": 2, "resolution": args["resolution"]}
    cfg = build_config("stackgan", preset, {**PT_STYLE, **fields})
    model = build_model(cfg, DataInfo(channels=3, resolution=cfg.resolution, embed_dim=args["text_dim"]))
    return {"G1": count(model.ca1) + count(model.netG1), "D1": count(model.netD1),
            "G2": count(model.ca2) + count(model.netG2), "D2": count(model.netD2)}


@pytest.mark.parametrize("args, expected", [(PAPER, PAPER_COUNTS), (SMALL, SMALL_COUNTS)], ids=["paper", "small"])
def test_ours_configured_like_the_reference_has_its_counts(args, expected):
    assert ours_pt_style(args) == expected


@pytest.mark.parametrize("preset", ["quick", "paper"])
def test_reference_like_matches_ours_at_the_presets(preset):
    """What bench.perf runs side by side: the reference built from our preset's config (quick: 16 → 64 px
    with the stride-1 second encoder conv) has our PT-style counts, network by network."""
    cfg = build_config("stackgan", preset, PT_STYLE)
    model = build_model(cfg, DataInfo(channels=3, resolution=cfg.resolution, embed_dim=384))
    g1, d1 = reference_like(cfg, 384, 1)
    g2, d2 = reference_like(cfg, 384, 2)
    assert (count(g1), count(d1)) == (count(model.ca1) + count(model.netG1), count(model.netD1))
    assert (count(g2, True), count(d2)) == (count(model.ca2) + count(model.netG2), count(model.netD2))


def test_shapes_of_both_stages():
    g2, d2 = build_reference(2, **SMALL)
    text, z = torch.randn(3, 32), torch.randn(3, 10)
    s1, img, mu, logvar = g2(text, z)
    assert s1.shape == (3, 3, 32, 32) and img.shape == (3, 3, 128, 128)
    assert mu.shape == logvar.shape == (3, 8) and (mu >= 0).all() and (logvar >= 0).all()  # ReLU in CA
    feats = d2(img)
    assert feats.shape == (3, 32, 4, 4)
    assert d2.get_cond_logits(feats, mu).shape == (3,) and d2.get_uncond_logits(feats).shape == (3,)


@pytest.mark.parametrize("stage", [1, 2])
def test_reference_step_updates_what_the_reference_updates(stage):
    """D and G (Stage-II: not the frozen Stage-I G) change; losses are finite; D's weight gradients are
    computed in both updates (the reference does not freeze D during G's step)."""
    torch.manual_seed(0)
    netG, netD = build_reference(stage, **SMALL)
    opt_g, opt_d = reference_optimizers(netG, netD)
    res = SMALL["stage1_resolution"] if stage == 1 else SMALL["resolution"]
    real, text = torch.rand(4, 3, res, res) * 2 - 1, torch.randn(4, 32)
    before = {n: p.detach().clone() for n, p in [*netG.named_parameters(), *netD.named_parameters()]}
    d_grads = []
    netD.encode_img[0].weight.register_hook(lambda g: d_grads.append(g))
    out = reference_step(netG, netD, opt_g, opt_d, real, text)
    assert all(torch.isfinite(v) for v in out.values())
    assert len(d_grads) == 2
    changed = {n for n, p in [*netG.named_parameters(), *netD.named_parameters()] if not torch.equal(p, before[n])}
    frozen = {n for n, _ in netG.named_parameters() if n.startswith("STAGE1_G.")}
    assert not changed & frozen
    trainable = {n for n, p in [*netG.named_parameters(), *netD.named_parameters()] if p.requires_grad}
    assert changed == trainable

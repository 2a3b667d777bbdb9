"""core.nn.init_discriminator: the three initialisations of a discriminator (issue #27)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from core.errors import ConfigError
from core.nn import D_INITS, init_discriminator, init_weights


def _d(kind: str, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    d = nn.Sequential(nn.Conv2d(3, 16, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(16, 16, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Flatten(), nn.Linear(16 * 4 * 4, 1))
    init_weights(d)
    init_discriminator(d, kind)
    return d


def test_a_zero_head_d_sees_its_input_but_gives_g_no_gradient_until_it_learns():
    x = torch.randn(32, 3, 16, 16)
    he, zero = _d("kaiming"), _d("kaiming-zero-head")
    # the same He-normal features (same seed, same draws), only the logit layer differs
    assert torch.equal(he[:-1](x), zero[:-1](x)) and he[:-1](x).std() > 0.1
    assert he(x).std() > 0.1
    assert torch.equal(zero(x), torch.zeros(32, 1))
    fake = x.clone().requires_grad_(True)
    zero(fake).sum().backward()
    assert torch.equal(fake.grad, torch.zeros_like(fake))  # nothing reaches G at init
    # one D step on real (x) against a constant image: the head learns from the sighted features at once
    opt = torch.optim.Adam(zero.parameters(), lr=1e-3)
    opt.zero_grad()
    const = torch.zeros_like(x)
    loss = nn.functional.binary_cross_entropy_with_logits(zero(x), torch.ones(32, 1)) + \
        nn.functional.binary_cross_entropy_with_logits(zero(const), torch.zeros(32, 1))
    loss.backward()
    opt.step()
    assert zero(x).std() > 0 and (zero(x).mean() - zero(const).mean()) > 0


def test_a_named_head_is_the_one_zeroed():
    torch.manual_seed(0)
    trunk, adv = nn.Sequential(nn.Linear(8, 8), nn.LeakyReLU(0.2)), nn.Linear(8, 1)
    init_discriminator(trunk, "kaiming-zero-head", head=adv)
    assert trunk[0].weight.abs().sum() > 0 and adv.weight.abs().sum() == 0 and adv.bias.abs().sum() == 0


def test_an_unknown_initialisation_is_refused():
    assert "normal" in D_INITS
    with pytest.raises(ConfigError, match="d_init"):
        _d("xavier")


def test_sgan_zeroes_the_adversarial_head_and_keeps_q():
    from core.models.sgan import _QDiscriminator

    torch.manual_seed(0)
    d = _QDiscriminator(nn.Sequential(nn.Linear(10, 16), nn.LeakyReLU(0.2)), 16, 4, "kaiming-zero-head")
    assert d.adv.weight.abs().sum() == 0 and d.q[0].weight.abs().sum() > 0 and d.trunk[0].weight.std() > 0.1


def test_minibatch_std_measures_the_batchs_spread_and_nothing_else():
    from core.nn import MinibatchStd
    m = MinibatchStd()
    same = torch.ones(8, 4, 3, 3) * 0.7  # one image eight times: no spread
    out = m(same)
    assert out.shape == (8, 5, 3, 3) and torch.equal(out[:, :4], same)
    assert float(out[:, 4].max()) < 1e-3
    spread = torch.randn(8, 4, 3, 3) * 2.0
    extra = m(spread)[:, 4]
    assert torch.allclose(extra, extra[0, 0, 0].expand_as(extra))  # one number, broadcast to every sample
    assert float(extra[0, 0, 0]) > 1.0  # about 2 · √(7/8) for N(0, 2²)
    assert m(torch.randn(5, 6)).shape == (5, 7) and float(m(torch.randn(1, 6))[0, 6]) < 1e-3  # batch of one: 0


def test_a_minibatch_std_d_scores_a_sample_by_its_batch():
    # without the switch a sample's logit is its own; with it, the same image scores differently in a varied
    # batch than in a batch of copies, in all three of the stacked study's Ds (the signal against few modes)
    import dataclasses

    from core.models.stacked import StackedConfig, make_discriminator
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    copies = x[:1].expand(16, -1, -1, -1)
    for layer in ("dense", "conv", "deepconv"):
        cfg = StackedConfig(layer=layer, conv_width=16, conv_layers=2, dense_d=(32, 8), deepconv_widths=(32, 16),
                            d_init="kaiming", dense_dropout=0.0)
        for mbstd in (False, True):
            torch.manual_seed(0)
            D = make_discriminator(dataclasses.replace(cfg, d_mbstd=mbstd), 3, 16).eval()
            with torch.no_grad():
                gap = float((D(x)[0] - D(copies)[0]).abs())
            assert (gap > 1e-4) == mbstd, (layer, mbstd, gap)


@pytest.mark.parametrize("build", ["structure", "style", "sgan-d0"])
def test_the_s2gan_and_sgan_switches_put_the_batch_feature_in_their_ds(build):
    from core.models.s2gan import StructureDiscriminator, StyleDiscriminator
    from core.models.sgan import ImageDiscriminator

    def make(mbstd: bool) -> nn.Module:
        torch.manual_seed(0)
        if build == "structure":
            return StructureDiscriminator(8, 16, init="kaiming", mbstd=mbstd)
        if build == "style":
            return StyleDiscriminator(8, 16, cond_channels=0, init="kaiming", mbstd=mbstd)
        return ImageDiscriminator(3, 16, (8, 8, 8), 16, 4, "kaiming", mbstd=mbstd)

    x = torch.rand(16, 3, 16, 16) * 2 - 1
    copies = x[:1].expand(16, -1, -1, -1)
    for mbstd in (False, True):
        D = make(mbstd).eval()
        with torch.no_grad():
            a, b = D(x), D(copies)
        a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)  # SGAN's D0 returns (logits, q)
        gap = float((a[0] - b[0]).abs())
        assert (gap > 1e-5) == mbstd, (build, mbstd, gap)

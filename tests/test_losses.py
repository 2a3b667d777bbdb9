"""Tests for core.losses: the one BCE and the one angular error."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from core.losses import angular_error, bce, d_loss_matching_aware, d_loss_real_fake, g_loss_nonsaturating


@pytest.mark.parametrize("shape", [(8,), (4, 1), (2, 1, 3, 3)])
def test_bce_is_bce_with_logits_against_ones_or_zeros_bit_for_bit(shape):
    logits = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 3
    assert torch.equal(bce(logits, True), F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)))
    assert torch.equal(bce(logits, False), F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)))
    assert bce(torch.zeros(3), True).item() == pytest.approx(math.log(2))
    assert bce(torch.full((3,), 20.0), True) < 1e-6 < bce(torch.full((3,), 20.0), False)


def test_adversarial_losses_are_sums_of_bce():
    g = torch.Generator().manual_seed(1)
    r, w, f = (torch.randn(6, generator=g) for _ in range(3))
    assert torch.equal(d_loss_real_fake(r, f), bce(r, True) + bce(f, False))
    assert torch.equal(d_loss_matching_aware(r, w, f), bce(r, True) + 0.5 * (bce(w, False) + bce(f, False)))
    assert torch.equal(g_loss_nonsaturating(f), bce(f, True))


def test_angular_error_is_a_per_pixel_map_in_degrees():
    z = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)
    x = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    pred = torch.cat([z, x, -z], dim=3).expand(2, 3, 2, 3)           # [2, 3, 2, 3]: 0°, 90°, 180° columns
    err = angular_error(pred, z.expand(2, 3, 2, 3))
    assert err.shape == (2, 1, 2, 3)
    torch.testing.assert_close(err[0, 0, 0], torch.tensor([0.0, 90.0, 180.0]), atol=1e-3, rtol=0)
    # lengths do not matter: both inputs are normalised per pixel
    assert torch.equal(angular_error(5 * pred, 0.5 * z.expand(2, 3, 2, 3)), err)

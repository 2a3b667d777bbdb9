"""Losses as small pure functions. A model's training step composes them.

All adversarial losses take discriminator *logits* (pre-sigmoid) and use BCE-with-logits,
which is the numerically stable form of the log(D) terms in the papers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Mean binary cross-entropy of logits (any shape) against all-real (1) or all-fake (0) targets: the one
    spelling of BCE-with-logits every adversarial loss here and in the models uses (``nn.BCECriterion``)."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))


def d_loss_real_fake(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Unconditional discriminator loss: −log D(x) − log(1 − D(G(z)))."""
    return bce(real_logits, True) + bce(fake_logits, False)


def d_loss_matching_aware(
    real_logits: torch.Tensor,   # [B] D(real image, right text)
    wrong_logits: torch.Tensor,  # [B] D(real image, wrong text)
    fake_logits: torch.Tensor,   # [B] D(fake image, right text)
) -> torch.Tensor:
    """Matching-aware discriminator loss (GAN-CLS, Reed et al. 2016, Alg. 1; StackGAN §3).

    L_D = −log s_r − ½ [log(1 − s_w) + log(1 − s_f)].
    """
    real = bce(real_logits, True)
    wrong = bce(wrong_logits, False)
    fake = bce(fake_logits, False)
    return real + 0.5 * (wrong + fake)


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss −log D(G(z)) (what every reference implementation uses)."""
    return bce(fake_logits, True)


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) of conditioning augmentation (StackGAN §3.1; λ = 1 in the paper).

    Args:
        mu: ``[B, C]`` means.
        logvar: ``[B, C]`` log variances (log σ²).
        reduction: ``"sum"``: the KL of the C-dimensional Gaussian (summed over dims), averaged over
            the batch, which is the paper's formula; ``"mean"``: averaged over batch *and* dims, as
            the reference code does (``reduce_mean``), i.e. ``"sum"`` / C.
    """
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)  # [B, C]
    if reduction == "sum":
        return kl.sum(dim=1).mean()
    if reduction == "mean":
        return kl.mean()
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def angular_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel angle in degrees between normal maps ``pred`` and ``target`` ``[B, 3, H, W]`` →
    ``[B, 1, H, W]``; both are normalised to unit length per pixel first. A caller wanting one number
    reduces the map itself (a mean, or a mask-weighted sum)."""
    cos = (F.normalize(pred, dim=1) * F.normalize(target, dim=1)).sum(1, keepdim=True)  # [B, 1, H, W]
    return torch.rad2deg(torch.acos(cos.clamp(-1.0, 1.0)))

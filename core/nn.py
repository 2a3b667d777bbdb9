"""Building blocks shared by the networks (StackGAN §3 / DCGAN conventions).

- up-sampling: nearest ×2 + conv3×3 + BN + ReLU (StackGAN) or transposed conv4×4 s2 (DCGAN);
- down-sampling: conv4×4 s2 + BN + LeakyReLU(0.2), no BN in the first block;
- residual blocks of 3×3 convs;
- conditioning augmentation and the matching-aware discriminator head.
"""
from __future__ import annotations

import torch
from torch import nn

from core.errors import ConfigError

D_INITS = ("normal", "kaiming", "kaiming-zero-head")


def init_weights(module: nn.Module) -> None:
    """DCGAN / StackGAN initialisation: conv and linear N(0, 0.02); BN weight N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def init_discriminator(module: nn.Module, kind: str, head: nn.Module | None = None) -> None:
    """Re-initialise a discriminator's (or a trunk's) convolutions and linear layers. ``"normal"``: leave
    :func:`init_weights`' N(0, 0.02), the reference codes'. Without BN, each such layer keeps only a fraction
    of its input's spread at small widths (about 0.3 per layer at 16 channels), so a deep D starts blind: its
    logits and its gradient towards G are a thousandth of their He-initialised size (docs/sgan.md,
    docs/s2gan.md). ``"kaiming"``: He-normal for the leaky ReLU (std √(2/(1+0.2²)) / √fan_in), which keeps
    the spread; biases stay 0. ``"kaiming-zero-head"``: the same, then the logit layer's weights and bias set
    to 0, so D's features see from the first step but its logits, and its gradient towards G, start at 0 and
    grow only as D learns (a He-normal D's untrained gradient is large and random: docs/s2gan.md, "The
    Style-GAN's style noise").

    Args:
        module: the discriminator (or its trunk).
        kind: one of :data:`D_INITS`.
        head: the logit layer for ``"kaiming-zero-head"`` (default: the last convolution or linear layer of
            ``module`` in module order, which for a whole discriminator is its output).

    Raises:
        ConfigError: ``kind`` is not one of :data:`D_INITS`.
    """
    if kind not in D_INITS:
        raise ConfigError(f"d_init must be one of {list(D_INITS)}, got {kind!r}")
    if kind == "normal":
        return
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for m in layers:
        nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
    if kind == "kaiming-zero-head":
        head = head if head is not None else layers[-1]
        nn.init.zeros_(head.weight)
        if head.bias is not None:
            nn.init.zeros_(head.bias)


class MinibatchStd(nn.Module):
    """Appends one feature that measures the batch's variety (Karras et al., ICLR 2018, §3): the standard
    deviation of every feature across the batch, averaged to one number and broadcast to every sample.
    ``[B, C, H, W]`` → ``[B, C + 1, H, W]``, ``[B, F]`` → ``[B, F + 1]``.

    A discriminator fed real and fake batches in separate calls can then tell a batch that covers few modes
    from a real one, and its gradient pushes the generator's samples apart. Not in the papers this suite
    reproduces: a departure, set per model by a config switch chosen on ``val`` (``d_mbstd`` and friends).
    The std is the biased one (a batch of one gives 0, not NaN)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = (x.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()  # scalar
        extra = std.expand(x.shape[0], 1, *x.shape[2:])            # [B, 1, ...]
        return torch.cat([x, extra], dim=1)


def up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """StackGAN up-sampling block: nearest ×2, conv3×3 s1, BN, ReLU. [B, in, H, W] → [B, out, 2H, 2W]."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def deconv_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """DCGAN up-sampling block: transposed conv4×4 s2, BN, ReLU. [B, in, H, W] → [B, out, 2H, 2W]."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def down_block(in_ch: int, out_ch: int, batch_norm: bool = True) -> nn.Sequential:
    """Down-sampling block: conv4×4 s2, [BN], LeakyReLU(0.2). [B, in, H, W] → [B, out, H/2, W/2]."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def image_encoder(in_ch: int, base_ch: int, in_res: int, out_res: int, max_ch: int | None = None) -> tuple[nn.Sequential, int]:
    """Stack of ``down_block`` s from ``in_res`` to ``out_res``, doubling channels from ``base_ch``.

    Returns the module and its output channel count. The first block has no BN (DCGAN rule).
    """
    if in_res < out_res or in_res % out_res or (in_res // out_res) & (in_res // out_res - 1):
        raise ValueError(f"in_res {in_res} must be out_res {out_res} times a power of two")
    blocks, ch, res = [], in_ch, in_res
    out = base_ch
    while res > out_res:
        blocks.append(down_block(ch, out, batch_norm=bool(blocks)))
        ch, res = out, res // 2
        out = out * 2 if max_ch is None else min(out * 2, max_ch)
    return nn.Sequential(*blocks), ch


class ResidualBlock(nn.Module):
    """x + F(x) with F = conv3×3, BN, ReLU, conv3×3, BN (StackGAN Stage-II); ReLU after the sum."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W] → [B, C, H, W]
        return self.act(x + self.body(x))


class ConditioningAugmentation(nn.Module):
    """StackGAN §3.1: ĉ = μ(φ) + σ(φ) ⊙ ε, ε ~ N(0, I), with μ, log σ² from one FC layer.

    With ``enabled=False`` (the paper's "CA = no" ablation) the condition is the deterministic
    projection μ(φ): no noise and no KL term (``logvar`` is returned as ``None``).
    """

    def __init__(self, embed_dim: int, cond_dim: int, enabled: bool = True):
        """
        Args:
            embed_dim: text embedding size (1024 for char-CNN-RNN, 384 for MiniLM).
            cond_dim: condition size N_g (StackGAN: 128).
            enabled: sample with noise (CA on) or return μ (CA off).
        """
        super().__init__()
        self.enabled = enabled
        self.cond_dim = cond_dim
        self.fc = nn.Linear(embed_dim, cond_dim * 2 if enabled else cond_dim)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, embedding: torch.Tensor, eps: torch.Tensor | None = None):
        """embedding ``[B, E]`` (and optional noise ``eps`` ``[B, cond_dim]``) →
        (condition ``[B, cond_dim]``, μ ``[B, cond_dim]``, log σ² ``[B, cond_dim]`` or None)."""
        h = self.act(self.fc(embedding))
        if not self.enabled:
            return h, h, None
        mu, logvar = h.chunk(2, dim=1)
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + eps * torch.exp(0.5 * logvar), mu, logvar


class MatchingHead(nn.Module):
    """Conditional discriminator head (StackGAN §3 / GAN-CLS): the condition is compressed by an FC
    layer to ``proj_dim``, replicated spatially, concatenated with the image features, then a 1×1
    conv and a final conv over the whole map give one logit per image."""

    def __init__(self, feat_ch: int, feat_res: int, cond_dim: int, proj_dim: int = 128):
        """
        Args:
            feat_ch: channels of the image feature map (8·N_d in StackGAN).
            feat_res: its spatial size (M_d = 4 in StackGAN).
            cond_dim: size of the condition given to D (text embedding or CA μ).
            proj_dim: N_d, the compressed condition size (128 in the paper).
        """
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(cond_dim, proj_dim), nn.LeakyReLU(0.2, inplace=True))
        self.joint = nn.Sequential(
            nn.Conv2d(feat_ch + proj_dim, feat_ch, 1, 1, 0, bias=False),
            nn.BatchNorm2d(feat_ch),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.out = nn.Conv2d(feat_ch, 1, feat_res, 1, 0)

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """features ``[B, C, M, M]``, condition ``[B, cond_dim]`` → logits ``[B]``."""
        c = self.proj(condition)[:, :, None, None].expand(-1, -1, *features.shape[2:])  # [B, Nd, M, M]
        return self.out(self.joint(torch.cat([features, c], dim=1))).flatten()


class ConditionalLogits(MatchingHead):
    """:class:`MatchingHead` with the reference implementations' variants as arguments.

    With ``proj_dim=128, kernel_size=1`` it is exactly :class:`MatchingHead` (StackGAN paper and the
    TF code: FC of the condition, 1×1 conv). StackGAN-Pytorch's ``D_GET_LOGITS`` is
    ``proj_dim=None, kernel_size=3``: the condition (G's CA μ) is tiled as it is, with no FC, and the
    joint conv is 3×3.
    """

    def __init__(self, feat_ch: int, feat_res: int, cond_dim: int, proj_dim: int | None = 128,
                 kernel_size: int = 1):
        """
        Args:
            feat_ch: channels of the image feature map.
            feat_res: its spatial size (M_d = 4 in StackGAN).
            cond_dim: size of the condition given to D.
            proj_dim: size of the FC-compressed condition (N_d), or None to tile the condition as is.
            kernel_size: joint conv kernel, 1 (paper) or 3 (StackGAN-Pytorch); odd, "same" padding.
        """
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and ≥ 1, got {kernel_size}")
        super().__init__(feat_ch, feat_res, cond_dim, proj_dim or cond_dim)
        if proj_dim is None:
            self.proj = nn.Identity()
        c_ch = proj_dim or cond_dim
        self.joint[0] = nn.Conv2d(feat_ch + c_ch, feat_ch, kernel_size, 1, kernel_size // 2, bias=False)

"""StackGAN-Pytorch's networks and training step, rebuilt for side-by-side measurement (issue #14).

This is an architecture-identical copy of the Stage-I and Stage-II networks of
hanzhanggit/StackGAN-Pytorch (``code/model.py``), stepped the way its ``code/trainer.py`` and
``code/miscc/utils.py`` step them. It was written from the layer description in
``../shared/reference/stackgan.md`` §3–5, checked layer by layer against the reference, with none of
its code copied. :mod:`bench.perf` times it beside the suite's own StackGAN on the same data, so
"ours / reference" is a measured ratio, and ``tests/bench/test_reference_stackgan.py`` checks its
parameter counts against counts derived by hand.

What differs from the reference's code, none of it changing a parameter or a FLOP at its settings:

- explicit constructor arguments instead of the global ``cfg``;
- the number of up- and down-sampling blocks follows the resolution: at the reference's 64 px
  (Stage-I) and 256 px (Stage-II) it is the reference's 4 up-blocks, 4 and 6 stride-2 convs; at
  other resolutions it is the same pattern with more or fewer blocks (the suite's ``quick`` preset);
- ``encoder_down`` (default 2, the reference) lets Stage-II's encoder keep its second conv at
  stride 1 as the suite's ``quick`` preset does (3×3, not in the reference), so the two run the same shapes;
- ``Variable``, ``volatile``, ``nn.parallel.data_parallel`` and the ``cuda`` branches are gone
  (modern PyTorch; data parallelism is irrelevant to one device);
- ``zero_grad()`` has modern PyTorch's default (gradients set to ``None``, not zero-filled).

The suite configured like the reference (:data:`PT_STYLE`) builds the same parameter counts, so the
side-by-side compares two implementations of one architecture.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Callable

import torch
from torch import nn

# --set overrides that configure core.models.stackgan like StackGAN-Pytorch (StackGANConfig's fields):
# D conditioned on G's CA μ (detached) with no FC, 3×3 joint conv in D's head, Stage-II D's extra
# unconditional logit, KL weight 2 averaged over dims (TRAIN.COEFF.KL, torch.mean in KL_loss).
PT_STYLE = {"model.d_condition": "mu", "model.d_head_kernel": 3, "model.stage2_uncond_head": True,
            "model.kl_weight": 2.0, "model.kl_reduction": "mean"}
KL_COEFF = 2.0  # TRAIN.COEFF.KL


def _conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    """3×3 stride-1 conv, padding 1, no bias (the reference's ``conv3x3``)."""
    return nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False)


def _up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """nearest ×2 → conv3×3 → BN → ReLU. [B, in, H, W] → [B, out, 2H, 2W]."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv3x3(in_ch, out_ch),
                         nn.BatchNorm2d(out_ch), nn.ReLU(True))


def _steps(big: int, small: int) -> int:
    """How many ×2 steps lead from ``small`` to ``big`` (a power-of-two ratio ≥ 2)."""
    n = round(math.log2(big / small))
    if n < 1 or small * 2 ** n != big:
        raise ValueError(f"{big} must be {small} times a power of two")
    return n


def reference_init(m: nn.Module) -> None:
    """The reference's ``weights_init``, applied with ``Module.apply``: conv weights N(0, 0.02); BN
    weight N(1, 0.02), bias 0; linear weights N(0, 0.02) (linear biases keep PyTorch's default)."""
    if isinstance(m, nn.Conv2d):
        m.weight.data.normal_(0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)
    elif isinstance(m, nn.Linear):
        m.weight.data.normal_(0.0, 0.02)


class ResBlock(nn.Module):
    """x + (conv3×3 → BN → ReLU → conv3×3 → BN)(x), then ReLU. [B, C, H, W] → [B, C, H, W]."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(_conv3x3(channels, channels), nn.BatchNorm2d(channels), nn.ReLU(True),
                                   _conv3x3(channels, channels), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.block(x) + x)


class CANet(nn.Module):
    """Conditioning augmentation: FC(text → 2·cond, bias) → ReLU → (μ, log σ²); ĉ = μ + σ ⊙ ε with
    ε ~ N(0, 1). The ReLU makes μ ≥ 0 and log σ² ≥ 0 (stackgan.md §2)."""

    def __init__(self, text_dim: int, cond_dim: int):
        """
        Args:
            text_dim: text embedding size (TEXT.DIMENSION, 1024).
            cond_dim: condition size (GAN.CONDITION_DIM, 128).
        """
        super().__init__()
        self.cond_dim = cond_dim
        self.fc = nn.Linear(text_dim, cond_dim * 2, bias=True)
        self.relu = nn.ReLU()

    def forward(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """text ``[B, T]`` → (ĉ, μ, log σ²), each ``[B, cond]``."""
        h = self.relu(self.fc(text))
        mu, logvar = h[:, :self.cond_dim], h[:, self.cond_dim:]
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar), mu, logvar


class Logits(nn.Module):
    """D's head (``D_GET_LOGITS``). Conditional: [features ‖ condition tiled 4×4] → conv3×3 → BN →
    LeakyReLU(0.2) → conv4×4 stride 4 (bias) → sigmoid; unconditional: conv4×4 stride 4 → sigmoid."""

    def __init__(self, feat_ch: int, cond_dim: int, conditional: bool = True):
        """
        Args:
            feat_ch: channels of D's 4×4 feature map (8·DF_DIM at the reference's resolutions).
            cond_dim: size of the condition tiled onto it (G's CA μ, CONDITION_DIM).
            conditional: the conditional head, or the unconditional one (Stage-II D).
        """
        super().__init__()
        self.cond_dim = cond_dim if conditional else 0
        layers: list[nn.Module] = []
        if conditional:
            layers += [_conv3x3(feat_ch + cond_dim, feat_ch), nn.BatchNorm2d(feat_ch), nn.LeakyReLU(0.2, inplace=True)]
        self.outlogits = nn.Sequential(*layers, nn.Conv2d(feat_ch, 1, kernel_size=4, stride=4), nn.Sigmoid())

    def forward(self, features: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """features ``[B, C, 4, 4]``, condition ``[B, cond]`` → probabilities ``[B]``."""
        if self.cond_dim:
            c = condition.view(-1, self.cond_dim, 1, 1).repeat(1, 1, 4, 4)  # [B, cond, 4, 4]
            features = torch.cat([features, c], dim=1)
        return self.outlogits(features).view(-1)


class Stage1Generator(nn.Module):
    """``STAGE1_G``: CA, then [z ‖ ĉ] → FC (no bias) → BN1d → ReLU → 4×4×(8·GF_DIM) → up-blocks halving
    the channels → conv3×3 → tanh."""

    def __init__(self, text_dim: int, cond_dim: int, z_dim: int, gf_dim: int, resolution: int = 64,
                 channels: int = 3):
        """
        Args:
            text_dim, cond_dim: see :class:`CANet`.
            z_dim: noise size (Z_DIM, 100).
            gf_dim: GAN.GF_DIM (128); the 4×4 map has 8·gf_dim channels.
            resolution: output side (IMSIZE 64: 4 up-blocks).
            channels: image channels.
        """
        super().__init__()
        self.z_dim = z_dim
        self.top = gf_dim * 8
        self.ca_net = CANet(text_dim, cond_dim)
        self.fc = nn.Sequential(nn.Linear(z_dim + cond_dim, self.top * 16, bias=False),
                                nn.BatchNorm1d(self.top * 16), nn.ReLU(True))
        chs = [self.top // 2 ** i for i in range(_steps(resolution, 4) + 1)]  # 8gf → 4gf → … (gf/2 at 64 px)
        self.up = nn.Sequential(*[_up_block(a, b) for a, b in zip(chs, chs[1:])])
        self.img = nn.Sequential(_conv3x3(chs[-1], channels), nn.Tanh())

    def forward(self, text: torch.Tensor, noise: torch.Tensor):
        """text ``[B, T]``, noise ``[B, Z]`` → (None, image ``[B, C, R, R]``, μ, log σ²)."""
        c, mu, logvar = self.ca_net(text)
        h = self.fc(torch.cat([noise, c], dim=1)).view(-1, self.top, 4, 4)  # [B, 8gf, 4, 4]
        return None, self.img(self.up(h)), mu, logvar


class Stage2Generator(nn.Module):
    """``STAGE2_G``: the Stage-I generator inside, frozen (``requires_grad=False``, left in train mode as
    the reference leaves it) and its image detached; encoder conv3×3 → ReLU, two conv4×4 s2 + BN + ReLU
    → 4·GF_DIM at R1/4; [‖ tiled ĉ of its own CA] → conv3×3 + BN + ReLU; residual blocks; up-blocks
    halving the channels; conv3×3 → tanh."""

    def __init__(self, stage1: Stage1Generator, text_dim: int, cond_dim: int, gf_dim: int, r_num: int,
                 in_resolution: int = 64, resolution: int = 256, channels: int = 3, encoder_down: int = 2):
        """
        Args:
            stage1: the Stage-I generator (its parameters are frozen here).
            text_dim, cond_dim: see :class:`CANet`.
            gf_dim: GAN.GF_DIM (128); 4·gf_dim channels at the joint block.
            r_num: residual blocks (GAN.R_NUM; 4 by default, 2 in the COCO config).
            in_resolution: Stage-I image side (64).
            resolution: output side (256: 4 up-blocks from 16).
            channels: image channels.
            encoder_down: stride-2 convs in the encoder (reference: 2; 1 makes the second a 3×3 s1 conv).
        """
        super().__init__()
        self.STAGE1_G = stage1
        self.z_dim = stage1.z_dim
        self.cond_dim = cond_dim
        for p in self.STAGE1_G.parameters():
            p.requires_grad = False
        self.ca_net = CANet(text_dim, cond_dim)
        second = (nn.Conv2d(2 * gf_dim, 4 * gf_dim, 4, 2, 1, bias=False) if encoder_down >= 2
                  else _conv3x3(2 * gf_dim, 4 * gf_dim))
        self.encoder = nn.Sequential(
            _conv3x3(channels, gf_dim), nn.ReLU(True),
            nn.Conv2d(gf_dim, gf_dim * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(gf_dim * 2), nn.ReLU(True),
            second, nn.BatchNorm2d(gf_dim * 4), nn.ReLU(True))  # [B, 4gf, R1/4, R1/4] (reference: 16×16)
        self.hr_joint = nn.Sequential(_conv3x3(cond_dim + gf_dim * 4, gf_dim * 4), nn.BatchNorm2d(gf_dim * 4),
                                      nn.ReLU(True))
        self.residual = nn.Sequential(*[ResBlock(gf_dim * 4) for _ in range(r_num)])
        n_up = _steps(resolution, in_resolution // 2 ** encoder_down)
        chs = [gf_dim * 4 // 2 ** i for i in range(n_up + 1)]  # 4gf → 2gf → gf → gf/2 → gf/4 (256 px)
        self.up = nn.Sequential(*[_up_block(a, b) for a, b in zip(chs, chs[1:])])
        self.img = nn.Sequential(_conv3x3(chs[-1], channels), nn.Tanh())

    def forward(self, text: torch.Tensor, noise: torch.Tensor):
        """text ``[B, T]``, noise ``[B, Z]`` → (Stage-I image ``[B, C, R1, R1]``, image ``[B, C, R, R]``, μ,
        log σ²)."""
        _, stage1_img, _, _ = self.STAGE1_G(text, noise)
        stage1_img = stage1_img.detach()
        h = self.encoder(stage1_img)  # [B, 4gf, J, J]
        c, mu, logvar = self.ca_net(text)
        c = c.view(-1, self.cond_dim, 1, 1).repeat(1, 1, *h.shape[2:])  # [B, cond, J, J]
        h = self.residual(self.hr_joint(torch.cat([h, c], dim=1)))
        return stage1_img, self.img(self.up(h)), mu, logvar


class Discriminator(nn.Module):
    """``STAGE1_D`` / ``STAGE2_D``: conv4×4 s2 (no BN) → LeakyReLU(0.2), then conv4×4 s2 + BN + LeakyReLU
    blocks doubling the channels down to 4×4, then conv3×3 + BN + LeakyReLU blocks halving them back to
    8·DF_DIM when wider (Stage-II at 256 px: 32·DF → 16·DF → 8·DF). ``forward`` gives the features;
    ``get_cond_logits`` and ``get_uncond_logits`` (Stage-II only, else None) give the probabilities."""

    def __init__(self, df_dim: int, cond_dim: int, resolution: int, uncond: bool, channels: int = 3):
        """
        Args:
            df_dim: GAN.DF_DIM (64), the first conv's width.
            cond_dim: condition size (CONDITION_DIM, 128; D sees G's CA μ).
            resolution: input side (64: 4 stride-2 convs; 256: 6).
            uncond: add the unconditional head (the reference's Stage-II D).
            channels: image channels.
        """
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, df_dim, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        ch = df_dim
        for _ in range(_steps(resolution, 4) - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            ch *= 2
        while ch > 8 * df_dim:
            layers += [_conv3x3(ch, ch // 2), nn.BatchNorm2d(ch // 2), nn.LeakyReLU(0.2, inplace=True)]
            ch //= 2
        self.encode_img = nn.Sequential(*layers)
        self.get_cond_logits = Logits(ch, cond_dim, conditional=True)
        self.get_uncond_logits = Logits(ch, cond_dim, conditional=False) if uncond else None

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image ``[B, C, R, R]`` → features ``[B, ch, 4, 4]``."""
        return self.encode_img(image)


def build_reference(stage: int, *, text_dim: int, cond_dim: int, z_dim: int, gf1: int, df1: int,
                    stage1_resolution: int, gf2: int = 0, df2: int = 0, r_num: int = 4, resolution: int = 0,
                    encoder_down: int = 2, channels: int = 3) -> tuple[nn.Module, Discriminator]:
    """The reference's (netG, netD) of ``stage`` (1 or 2), initialised with :func:`reference_init`
    (for stage 2 the generator holds a freshly initialised, frozen Stage-I generator).

    Args:
        text_dim, cond_dim, z_dim: TEXT.DIMENSION, GAN.CONDITION_DIM, Z_DIM.
        gf1, df1, stage1_resolution: Stage-I GF_DIM, DF_DIM and IMSIZE.
        gf2, df2, r_num, resolution, encoder_down: Stage-II GF_DIM, DF_DIM, R_NUM, IMSIZE and
            :class:`Stage2Generator`'s ``encoder_down`` (stage 2 only).
        channels: image channels.
    """
    g1 = Stage1Generator(text_dim, cond_dim, z_dim, gf1, stage1_resolution, channels)
    if stage == 1:
        netG, netD = g1, Discriminator(df1, cond_dim, stage1_resolution, uncond=False, channels=channels)
    elif stage == 2:
        netG = Stage2Generator(g1, text_dim, cond_dim, gf2, r_num, stage1_resolution, resolution, channels,
                               encoder_down)
        netD = Discriminator(df2, cond_dim, resolution, uncond=True, channels=channels)
    else:
        raise ValueError(f"stage must be 1 or 2, got {stage}")
    netG.apply(reference_init)
    netD.apply(reference_init)
    return netG, netD


def reference_like(cfg: Any, text_dim: int, stage: int, channels: int = 3) -> tuple[nn.Module, Discriminator]:
    """:func:`build_reference` with the widths and resolutions of a suite StackGAN run config ``cfg``
    (a ``core.config.TrainConfig`` whose ``model`` is a ``StackGANConfig``)."""
    m = cfg.model
    return build_reference(stage, text_dim=text_dim, cond_dim=m.cond_dim, z_dim=m.z_dim, gf1=m.ngf1, df1=m.ndf1,
                           stage1_resolution=m.stage1_resolution, gf2=m.ngf2, df2=m.ndf2, r_num=m.num_residual,
                           resolution=cfg.resolution, encoder_down=m.stage2_encoder_down, channels=channels)


def reference_optimizers(netG: nn.Module, netD: nn.Module, lr_g: float = 2e-4, lr_d: float = 2e-4,
                         betas: tuple[float, float] = (0.5, 0.999)) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """(optimizerG, optimizerD): Adam (0.5, 0.999) at 2e-4 with PyTorch's defaults otherwise, D over all
    its parameters, G over those that require grad (Stage-II: not the frozen Stage-I generator)."""
    opt_d = torch.optim.Adam(netD.parameters(), lr=lr_d, betas=betas)
    opt_g = torch.optim.Adam([p for p in netG.parameters() if p.requires_grad], lr=lr_g, betas=betas)
    return opt_g, opt_d


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """−½ · mean over batch and dims of (1 + log σ² − μ² − σ²) (the reference's ``KL_loss``)."""
    return -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


def reference_step(netG: nn.Module, netD: Discriminator, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                   real: torch.Tensor, text: torch.Tensor, kl_coeff: float = KL_COEFF,
                   autocast: Callable[[], Any] = contextlib.nullcontext) -> dict[str, torch.Tensor]:
    """One iteration of the reference's ``GANTrainer.train`` loop.

    G runs once; D is updated on its features of the real and of the detached fake batch (two encoder
    passes), scored with the detached μ as (real, right), (real[:B−1], μ[1:]: the wrong pairs, the batch
    shifted by one) and (fake, right), plus the unconditional head on real and fake for Stage-II; D's loss
    is real + ½(wrong + fake), or (real + uncond real)/2 + (fake + wrong + uncond fake)/3 with the
    unconditional head. Then G is updated through a third D pass on the fake batch with BCE(D, 1)
    (+ the unconditional term) + ``kl_coeff`` · KL. D is not frozen during G's step: its weight gradients
    are computed and dropped at the next ``zero_grad``.

    Args:
        netG, netD, opt_g, opt_d: from :func:`build_reference` and :func:`reference_optimizers`.
        real: real images ``[B, C, R, R]`` at the stage's resolution, in [-1, 1].
        text: their caption embeddings ``[B, T]``.
        kl_coeff: TRAIN.COEFF.KL (2.0).
        autocast: context for the forward passes (losses are computed outside it, in float32).
    Returns:
        ``{"loss_d", "loss_g", "kl"}``, detached (reading them synchronises a GPU; the reference reads
        them every 100 steps).
    """
    B = real.shape[0]
    noise = torch.randn(B, netG.z_dim, device=real.device)  # [B, Z]
    bce = nn.BCELoss()
    ones = torch.ones(B, device=real.device)
    zeros = torch.zeros(B, device=real.device)
    with autocast():
        _, fake, mu, logvar = netG(text, noise)  # fake [B, C, R, R]
        cond = mu.detach()
        real_features, fake_features = netD(real), netD(fake.detach())  # [B, ch, 4, 4] each
        p_real = netD.get_cond_logits(real_features, cond)
        p_wrong = netD.get_cond_logits(real_features[:B - 1], cond[1:])
        p_fake = netD.get_cond_logits(fake_features, cond)
        uncond = netD.get_uncond_logits
        if uncond is not None:
            u_real, u_fake = uncond(real_features), uncond(fake_features)
    err_real, err_wrong = bce(p_real.float(), ones), bce(p_wrong.float(), zeros[1:])
    err_fake = bce(p_fake.float(), zeros)
    if uncond is not None:
        loss_d = (err_real + bce(u_real.float(), ones)) / 2 + (err_fake + err_wrong + bce(u_fake.float(), zeros)) / 3
    else:
        loss_d = err_real + (err_fake + err_wrong) * 0.5
    netD.zero_grad()
    loss_d.backward()
    opt_d.step()

    with autocast():
        fake_features = netD(fake)
        p_fake = netD.get_cond_logits(fake_features, cond)
        if uncond is not None:
            u_fake = uncond(fake_features)
    loss_g = bce(p_fake.float(), ones)
    if uncond is not None:
        loss_g = loss_g + bce(u_fake.float(), ones)
    kl = kl_loss(mu.float(), logvar.float())
    netG.zero_grad()
    (loss_g + kl * kl_coeff).backward()
    opt_g.step()
    return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "kl": kl.detach()}


__all__ = ["CANet", "Discriminator", "KL_COEFF", "Logits", "PT_STYLE", "ResBlock", "Stage1Generator",
           "Stage2Generator", "build_reference", "kl_loss", "reference_init", "reference_like",
           "reference_optimizers", "reference_step"]

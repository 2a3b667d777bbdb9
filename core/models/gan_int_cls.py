"""GAN-INT-CLS (Reed et al., ICML 2016): a text-conditional DCGAN with the matching-aware
discriminator (GAN-CLS) and the interpolation term (GAN-INT). Seed 004, Algorithm 1.

It is the baseline row of StackGAN's Table 1 and the first model through the training loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from core import losses
from core.models.base import DataInfo, ModelSpec, Phase, StepContext, adam
from core.nn import MatchingHead, deconv_block, image_encoder, init_weights


@dataclass(frozen=True)
class GanIntClsConfig:
    steps: int = 3000          # training steps (one D update + one G update each)
    z_dim: int = 100           # N_z (Reed et al.: 100, N(0, 1))
    text_proj_dim: int = 128   # text embedding compressed by an FC layer before G and D (Reed: 128)
    ngf: int = 128             # G width: channels at the last up-sampling block; 8·ngf at 4×4 (Reed: 128)
    ndf: int = 64              # D width: channels of the first down-sampling block (Reed: 64)
    interp: bool = True        # GAN-INT: add G loss on β-mixtures of two captions' embeddings
    interp_beta: float = 0.5   # β (Reed's main_cls_int.lua: 0.5)
    interp_weight: float = 1.0 # weight of the interpolation term (Reed's train_cub.sh: 1.0)
    embedding_scale: float = 1.0  # the text embedding is multiplied by this before G and D (see StackGAN's)


class TextConditionedGenerator(nn.Module):
    """[z ‖ FC(φ(t))] → FC to 4×4×(8·ngf) → transposed-conv blocks → tanh image."""

    def __init__(self, embed_dim: int, z_dim: int, text_proj_dim: int, ngf: int, resolution: int, channels: int):
        """
        Args:
            embed_dim: text embedding size.
            z_dim: noise size.
            text_proj_dim: size of the compressed text code.
            ngf: channels of the last up-sampling block (channels double towards 4×4).
            resolution: output side, a power of two ≥ 8.
            channels: output image channels.
        """
        super().__init__()
        n_up = int(math.log2(resolution)) - 2  # 4 → resolution
        if 4 * 2 ** n_up != resolution or n_up < 1:
            raise ValueError(f"resolution must be a power of two ≥ 8, got {resolution}")
        self.text = nn.Sequential(nn.Linear(embed_dim, text_proj_dim), nn.LeakyReLU(0.2, inplace=True))
        top = ngf * 2 ** (n_up - 1)
        self.fc = nn.Sequential(nn.Linear(z_dim + text_proj_dim, top * 16, bias=False),
                                nn.BatchNorm1d(top * 16), nn.ReLU(inplace=True))
        self.top = top
        blocks, ch = [], top
        for _ in range(n_up - 1):
            blocks.append(deconv_block(ch, ch // 2))
            ch //= 2
        self.up = nn.Sequential(*blocks)
        self.to_image = nn.Sequential(nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh())
        init_weights(self)

    def forward(self, z: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """z ``[B, Z]``, embedding ``[B, E]`` → image ``[B, C, R, R]`` in [-1, 1]."""
        h = self.fc(torch.cat([z, self.text(embedding)], dim=1)).view(-1, self.top, 4, 4)  # [B, top, 4, 4]
        return self.to_image(self.up(h))


class MatchingAwareDiscriminator(nn.Module):
    """DCGAN down-sampling to 4×4, then :class:`core.nn.MatchingHead` with the text embedding."""

    def __init__(self, embed_dim: int, text_proj_dim: int, ndf: int, resolution: int, channels: int):
        super().__init__()
        self.encode, ch = image_encoder(channels, ndf, resolution, 4)  # [B, ch, 4, 4]
        self.head = MatchingHead(ch, 4, embed_dim, text_proj_dim)
        init_weights(self)

    def forward(self, image: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """image ``[B, C, R, R]``, embedding ``[B, E]`` → logits ``[B]``."""
        return self.head(self.encode(image), embedding)


class GanIntCls(nn.Module):
    def __init__(self, cfg: GanIntClsConfig, info: DataInfo):
        super().__init__()
        self.netG = TextConditionedGenerator(info.embed_dim, cfg.z_dim, cfg.text_proj_dim, cfg.ngf,
                                             info.resolution, info.channels)
        self.netD = MatchingAwareDiscriminator(info.embed_dim, cfg.text_proj_dim, cfg.ndf,
                                               info.resolution, info.channels)
        self.cfg = cfg  # a plain attribute (not a module): read by _generate


def _phases(run) -> list[Phase]:
    """One phase; Adam at the run's rates (Reed et al.: 2e-4, β1 0.5)."""
    return [Phase("main", run.model.steps, {"d": adam(run, ("netD",), run.lr_d), "g": adam(run, ("netG",), run.lr_g)})]


def _train_step(batch: dict, ctx: StepContext) -> None:
    """One D update then one G update (seed 004, Algorithm 1)."""
    cfg: GanIntClsConfig = ctx.cfg.model
    G, D = ctx.nets["netG"], ctx.nets["netD"]
    real = batch["image"]
    right = batch["text"] * cfg.embedding_scale        # [B, E]
    wrong = batch["wrong_text"] * cfg.embedding_scale  # [B, E]
    B = real.shape[0]
    z = torch.randn(B, cfg.z_dim, device=real.device)
    with ctx.autocast():
        fake = G(z, right)  # [B, C, R, R]
        # D is called once per group, as in the reference code: with batch norm in D, a batch that
        # mixed real and fake images would be normalised differently from the all-fake batch of
        # the G step, and G would be trained against a D it never meets.
        s_r = D(real, right).float()
        s_w = D(real, wrong).float()
        s_f = D(fake.detach(), right).float()
        loss_d = losses.d_loss_matching_aware(s_r, s_w, s_f)
    ctx.update("d", loss_d)

    with ctx.fixed("netD") as D_fixed:  # G's step: D is a fixed function (no weight gradients)
        with ctx.autocast():
            g_images, g_text = fake, right
            if cfg.interp:
                # GAN-INT: β-mixture of this batch's embeddings with a shifted copy (no real image exists)
                k = max(1, B // 2)
                mix = cfg.interp_beta * right[:k] + (1 - cfg.interp_beta) * right.roll(1, 0)[:k]
                z_int = torch.randn(k, cfg.z_dim, device=real.device)
                g_images = torch.cat([fake, G(z_int, mix)])
                g_text = torch.cat([right, mix])
            s = D_fixed(g_images, g_text).float()
            loss_g = losses.g_loss_nonsaturating(s[:B])
            if cfg.interp:
                loss_int = losses.g_loss_nonsaturating(s[B:])
                loss_g = loss_g + cfg.interp_weight * loss_int
        ctx.update("g", loss_g, d_real=torch.sigmoid(s_r).mean(), d_fake=torch.sigmoid(s_f).mean())


def _generate(model: GanIntCls, condition: dict, noise: dict) -> dict:
    """Images ``[B, C, R, R]`` from caption embeddings ``condition["text"]`` ``[B, E]`` and noise ``z``."""
    return {"image": model.netG(noise["z"], condition["text"] * model.cfg.embedding_scale)}


SPEC = ModelSpec(
    name="gan-int-cls",
    config_cls=GanIntClsConfig,
    presets={
        "smoke": {"model": {"steps": 4, "ngf": 8, "ndf": 8, "text_proj_dim": 16, "z_dim": 16},
                  "resolution": 16, "batch_size": 8, "text_encoder": "hash", "dataset_size": 64,
                  "log_every": 1, "sample_every": 2, "checkpoint_every": 2},
        # embedding_scale √384: MiniLM embeddings have unit norm (≈0.05 per dimension), which the
        # N(0, 0.02) text FC turns into a code ~50× weaker than z; measured in results/gan-int-cls/.
        "quick": {"model": {"steps": 3000, "ngf": 32, "ndf": 32, "embedding_scale": 19.6},
                  "channels_last": True,  # faster training steps at this size on CPU (timings: results/perf/cpu.md)
                  "resolution": 32, "batch_size": 64, "log_every": 25, "sample_every": 500,
                  "checkpoint_every": 500},
        # Reed et al. / StackGAN Table 1 baseline: 64×64, ngf 128, ndf 64, batch 64, Adam 2e-4 (β1 0.5),
        # halved every 100 epochs, 600 epochs (CUB train ≈ 8,855 images → 138 steps/epoch).
        "paper": {"model": {"steps": 600 * 138, "ngf": 128, "ndf": 64},
                  "resolution": 64, "batch_size": 64, "lr_decay_every": 100 * 138,
                  "log_every": 100, "sample_every": 2000, "checkpoint_every": 2000},
    },
    build=lambda cfg, info: GanIntCls(cfg, info),
    phases=_phases,
    train_step=_train_step,
    generate=_generate,
    noise_shapes=lambda cfg: {"z": (cfg.z_dim,)},
    conditions=("text",),
    mismatched=True,
)

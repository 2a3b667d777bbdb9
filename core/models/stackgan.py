"""StackGAN (Zhang et al., ICCV 2017, arXiv 1612.03242): text → Stage-I sketch → Stage-II refinement.

- **Conditioning Augmentation** (§3.1): ĉ = μ(φt) + σ(φt) ⊙ ε, and the G loss adds λ·KL(N(μ, Σ) ‖ N(0, I)).
- **Stage-I** (§3.2): [ĉ0 ‖ z] → FC → 4×4×(8·ngf) → up-sampling blocks → tanh image at
  ``stage1_resolution``; a matching-aware D that down-samples to 4×4.
- **Stage-II** (§3.3): the Stage-I image is encoded to ``stage1_resolution / 4``, joined with the tiled
  condition of a *second* CA ("text twice"), refined by residual blocks and up-sampled to the final
  resolution; a matching-aware D with more down-sampling blocks.

Every switch of the paper's Table 2 and every paper-vs-code difference that matters is a field of
:class:`StackGANConfig`; ``docs/stackgan.md`` lists them with the parameter counts. Training is a list
of phases: ``stage1`` (Stage-I G and D), ``stage2`` (Stage-I frozen) and optionally ``finetune``
(both generators end to end through the Stage-II loss).
"""
from __future__ import annotations

import contextlib
import math
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core import losses
from core.errors import ConfigError
from core.models.base import DataInfo, ModelSpec, Phase, StepContext, adam
from core.nn import ConditionalLogits, ConditioningAugmentation, ResidualBlock, down_block, init_weights, up_block

CUB_STEPS_PER_EPOCH = 8855 // 64  # CUB-200-2011 train split (8,855 images) at batch 64 → 138 steps


@dataclass(frozen=True)
class StackGANConfig:
    # ---- structure
    stages: int = 2                 # 2: StackGAN; 1: a single Stage-I GAN at the final resolution (Table 2)
    stage1_resolution: int = 64     # W0 (paper: 64); with stages=1 it must equal the final resolution
    # ---- schedule (steps per phase; a phase with 0 steps is omitted)
    stage1_steps: int = 3000
    stage2_steps: int = 3000
    finetune_steps: int = 0         # "stacked with full backpropagation": both Gs end to end (paper §4.2)
    # ---- dimensions (paper §3 / §4: N_z = 100, N_g = 128, N_d = 128)
    z_dim: int = 100                # N_z
    cond_dim: int = 128             # N_g, size of ĉ0 and ĉ
    ngf1: int = 128                 # Stage-I G: 8·ngf1 channels at 4×4, halved per up-block (code GF_DIM 128)
    ndf1: int = 64                  # Stage-I D: first down-block width, doubled per block (code DF_DIM 64)
    ngf2: int = 128                 # Stage-II G: encoder width; 4·ngf2 at the joint block (code GF_DIM 128)
    ndf2: int = 64                  # Stage-II D: like ndf1
    num_residual: int = 4           # Stage-II residual blocks (paper: 2 for 128×128, 4 for 256×256)
    stage2_encoder_down: int = 2    # stride-2 convs in Stage-II's image encoder: the joint block works at
                                    # W0 / 2**this (paper: 2, i.e. 64 → 16; 1 keeps a 16-px Stage-I at 8×8)
    # ---- conditioning augmentation (Table 2's "CA" and "Text twice")
    ca: bool = True                 # False: deterministic projection, no ε, no KL (paper's "CA = no")
    kl_weight: float = 1.0          # λ (paper §3.1: 1; both reference codes: 2.0)
    kl_reduction: str = "sum"       # "sum" over dims (paper's KL) | "mean" over dims (code's reduce_mean)
    kl_warmup_steps: int = 0        # ramp λ linearly from 0 over this many steps of each phase (0: off)
    text_twice: bool = True         # False: Stage-II G gets no text (no second CA); its D stays matching-aware
    embedding_scale: float = 1.0    # the text embedding is multiplied by this before CA and D
    # ---- discriminator condition and head (paper/TF defaults; StackGAN-Pytorch in the comments)
    d_condition: str = "embedding"  # "embedding": D's own FC of φt (paper, TF) | "mu": G's CA μ, detached (PT)
    d_proj_dim: int = 128           # N_d: D's FC of the embedding ("embedding" only; PT tiles μ with no FC)
    d_head_kernel: int = 1          # joint conv of the D head: 1 (paper, TF) | 3 (PT)
    stage2_uncond_head: bool = False  # PT: Stage-II D also has an unconditional logit (not in the paper)

    def __post_init__(self):
        if self.stages not in (1, 2):
            raise ConfigError(f"stackgan: stages must be 1 or 2, got {self.stages}")
        if self.kl_reduction not in ("sum", "mean"):
            raise ConfigError(f"stackgan: kl_reduction must be 'sum' or 'mean', got {self.kl_reduction!r}")
        if self.d_condition not in ("embedding", "mu"):
            raise ConfigError(f"stackgan: d_condition must be 'embedding' or 'mu', got {self.d_condition!r}")
        if self.d_head_kernel not in (1, 3):
            raise ConfigError(f"stackgan: d_head_kernel must be 1 or 3, got {self.d_head_kernel}")
        for name in ("stage1_steps", "stage2_steps", "finetune_steps", "kl_warmup_steps", "num_residual"):
            if getattr(self, name) < 0:
                raise ConfigError(f"stackgan: {name} must be ≥ 0, got {getattr(self, name)}")
        if self.stage2_encoder_down not in (0, 1, 2):
            raise ConfigError(f"stackgan: stage2_encoder_down must be 0, 1 or 2, got {self.stage2_encoder_down}")
        for name in ("z_dim", "cond_dim", "ngf1", "ndf1", "ngf2", "ndf2", "d_proj_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"stackgan: {name} must be ≥ 1, got {getattr(self, name)}")


def _log2_steps(big: int, small: int, what: str) -> int:
    """Number of ×2 steps from ``small`` to ``big`` (both powers-of-two multiples); clear error otherwise."""
    n = int(round(math.log2(big / small))) if big > 0 and small > 0 else -1
    if n < 1 or small * 2 ** n != big:
        raise ConfigError(f"stackgan: {what}: {big} must be {small} times a power of two (≥ 2)")
    return n


# ----------------------------------------------------------------------------------------------
# networks

class StageIGenerator(nn.Module):
    """[ĉ0 ‖ z] → FC → 4×4×(8·ngf) → up-blocks (channels halved each) → conv3×3 → tanh (paper §3.2)."""

    def __init__(self, cond_dim: int, z_dim: int, ngf: int, resolution: int, channels: int):
        """
        Args:
            cond_dim: size of the condition ĉ0 (N_g).
            z_dim: noise size (N_z).
            ngf: width; 8·ngf channels at 4×4 (StackGAN code: GF_DIM).
            resolution: output side, 4 times a power of two.
            channels: image channels.
        """
        super().__init__()
        n_up = _log2_steps(resolution, 4, "Stage-I resolution")
        self.top = 8 * ngf
        self.fc = nn.Sequential(nn.Linear(cond_dim + z_dim, self.top * 16, bias=False),
                                nn.BatchNorm1d(self.top * 16), nn.ReLU(inplace=True))
        blocks, ch = [], self.top
        for _ in range(n_up):
            out = max(ch // 2, 4)  # never thinner than 4 channels (only tiny widths reach this floor)
            blocks.append(up_block(ch, out))
            ch = out
        self.up = nn.Sequential(*blocks)
        self.to_image = nn.Sequential(nn.Conv2d(ch, channels, 3, 1, 1, bias=False), nn.Tanh())
        init_weights(self)

    def forward(self, condition: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """condition ``[B, N_g]``, z ``[B, N_z]`` → image ``[B, C, R1, R1]`` in [-1, 1]."""
        h = self.fc(torch.cat([condition, z], dim=1)).view(-1, self.top, 4, 4)  # [B, 8ngf, 4, 4]
        return self.to_image(self.up(h))


class StageIIGenerator(nn.Module):
    """Stage-I image → encoder to R1/4 → [‖ tiled ĉ] → joint conv → residual blocks → up-blocks → tanh
    (paper §3.3). With ``cond_dim=0`` it sees no text ("text twice = no")."""

    def __init__(self, cond_dim: int, ngf: int, num_residual: int, in_resolution: int, out_resolution: int,
                 channels: int, encoder_down: int = 2):
        """
        Args:
            cond_dim: size of the Stage-II condition ĉ, or 0 for no text.
            ngf: encoder width; 4·ngf channels at the joint block (StackGAN code: GF_DIM).
            num_residual: residual blocks at the joint resolution.
            in_resolution: Stage-I image side R1 (the joint block works at R1 / 2**encoder_down).
            out_resolution: final side, the joint side times a power of two.
            channels: image channels.
            encoder_down: stride-2 convs in the image encoder (paper: 2); the others are 3×3 stride 1.
        """
        super().__init__()
        if in_resolution < 8 or in_resolution % 4:
            raise ConfigError(f"stackgan: Stage-I resolution must be ≥ 8 for a Stage-II, got {in_resolution}")
        if out_resolution <= in_resolution:
            raise ConfigError(f"stackgan: the final resolution {out_resolution} must exceed the Stage-I "
                              f"resolution {in_resolution}; for a single-stage GAN set model.stages=1")
        joint_res = in_resolution // 2 ** encoder_down
        n_up = _log2_steps(out_resolution, joint_res, "final resolution")
        self.cond_dim = cond_dim
        layers: list[nn.Module] = [nn.Conv2d(channels, ngf, 3, 1, 1, bias=False), nn.ReLU(inplace=True)]
        for i, ch in enumerate((ngf, 2 * ngf)):  # [B, C, R1, R1] → [B, 4ngf, joint, joint]
            conv = (nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False) if i < encoder_down
                    else nn.Conv2d(ch, 2 * ch, 3, 1, 1, bias=False))
            layers += [conv, nn.BatchNorm2d(2 * ch), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*layers)
        self.joint = nn.Sequential(nn.Conv2d(4 * ngf + cond_dim, 4 * ngf, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(4 * ngf), nn.ReLU(inplace=True))
        self.residual = nn.Sequential(*[ResidualBlock(4 * ngf) for _ in range(num_residual)])
        blocks, ch = [], 4 * ngf
        for _ in range(n_up):
            out = max(ch // 2, 4)
            blocks.append(up_block(ch, out))
            ch = out
        self.up = nn.Sequential(*blocks)
        self.to_image = nn.Sequential(nn.Conv2d(ch, channels, 3, 1, 1, bias=False), nn.Tanh())
        init_weights(self)

    def forward(self, stage1: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """Stage-I image ``[B, C, R1, R1]``, condition ``[B, N_g]`` (None without text) → ``[B, C, R, R]``."""
        h = self.encoder(stage1)  # [B, 4ngf, J, J], J = R1 / 2**encoder_down
        if self.cond_dim:
            if condition is None:
                raise ValueError("this Stage-II generator was built with text (text_twice=True): pass a condition")
            c = condition[:, :, None, None].expand(-1, -1, *h.shape[2:])  # [B, N_g, J, J]
            h = torch.cat([h, c], dim=1)
        return self.to_image(self.up(self.residual(self.joint(h))))


class StackGANDiscriminator(nn.Module):
    """Matching-aware D of either stage: conv4×4 s2 down-blocks to 4×4 (no BN in the first, channels
    doubled each), conv3×3 blocks bringing the channels back to 8·ndf when more than 8·ndf (Stage-II D of
    StackGAN-Pytorch), then the conditional head; optionally an unconditional logit (PT Stage-II)."""

    def __init__(self, channels: int, ndf: int, resolution: int, cond_dim: int, proj_dim: int | None,
                 head_kernel: int = 1, uncond_head: bool = False):
        """
        Args:
            channels: image channels.
            ndf: width of the first down-block (StackGAN code: DF_DIM).
            resolution: input side, 4 times a power of two.
            cond_dim: size of the condition (text embedding, or CA μ).
            proj_dim: D's FC of the condition (N_d), or None to tile it as is.
            head_kernel: joint conv of the head, 1 (paper) or 3 (PT).
            uncond_head: add an unconditional logit (PT's Stage-II D).
        """
        super().__init__()
        n_down = _log2_steps(resolution, 4, "discriminator resolution")
        # no bias in the first conv either (as both references; BN-free block)
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        ch = ndf
        for _ in range(n_down - 1):
            layers.append(down_block(ch, ch * 2))
            ch *= 2
        while ch > 8 * ndf:  # PT Stage-II D: 32ndf → 16ndf → 8ndf at 4×4
            layers += [nn.Conv2d(ch, ch // 2, 3, 1, 1, bias=False), nn.BatchNorm2d(ch // 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            ch //= 2
        self.encode = nn.Sequential(*layers)  # [B, C, R, R] → [B, ch, 4, 4]
        self.head = ConditionalLogits(ch, 4, cond_dim, proj_dim, head_kernel)
        self.uncond = nn.Conv2d(ch, 1, 4, 4, 0) if uncond_head else None
        init_weights(self)

    def forward(self, image: torch.Tensor, condition: torch.Tensor, *more: torch.Tensor):
        """image ``[B, C, R, R]``, condition ``[B, cond]`` → (conditional logits ``[B]``,
        unconditional logits ``[B]`` or None). Each further condition in ``more`` (e.g. the wrong
        caption's) adds its conditional logits ``[B]`` to the tuple, from the same image features: the
        image is encoded once, as the reference code does for the real/wrong pair."""
        h = self.encode(image)  # [B, ch, 4, 4]
        out = (self.head(h, condition), (self.uncond(h).flatten() if self.uncond is not None else None))
        return out + tuple(self.head(h, c) for c in more)


class StackGAN(nn.Module):
    """The container: ``ca1``, ``netG1``, ``netD1`` and, for two stages, ``ca2`` (text twice only),
    ``netG2``, ``netD2``. ``cfg`` is kept as a plain attribute for :func:`_generate`."""

    def __init__(self, cfg: StackGANConfig, info: DataInfo):
        super().__init__()
        if info.embed_dim < 1:
            raise ConfigError("stackgan is text-conditional: the dataset needs captions or embeddings")
        self.cfg = cfg
        r1 = cfg.stage1_resolution
        if cfg.stages == 1 and r1 != info.resolution:
            raise ConfigError(f"stackgan: with stages=1 the Stage-I GAN works at the final resolution; set "
                              f"model.stage1_resolution={info.resolution} (got {r1})")
        mu_mode = cfg.d_condition == "mu"
        d_cond = cfg.cond_dim if mu_mode else info.embed_dim
        d_proj = None if mu_mode else cfg.d_proj_dim
        self.ca1 = ConditioningAugmentation(info.embed_dim, cfg.cond_dim, enabled=cfg.ca)
        self.netG1 = StageIGenerator(cfg.cond_dim, cfg.z_dim, cfg.ngf1, r1, info.channels)
        self.netD1 = StackGANDiscriminator(info.channels, cfg.ndf1, r1, d_cond, d_proj, cfg.d_head_kernel)
        init_weights(self.ca1)
        if cfg.stages == 2:
            if cfg.text_twice:
                self.ca2 = ConditioningAugmentation(info.embed_dim, cfg.cond_dim, enabled=cfg.ca)
                init_weights(self.ca2)
            self.netG2 = StageIIGenerator(cfg.cond_dim if cfg.text_twice else 0, cfg.ngf2, cfg.num_residual,
                                          r1, info.resolution, info.channels, cfg.stage2_encoder_down)
            self.netD2 = StackGANDiscriminator(info.channels, cfg.ndf2, info.resolution, d_cond, d_proj,
                                               cfg.d_head_kernel, cfg.stage2_uncond_head)


# ----------------------------------------------------------------------------------------------
# phases and the training step

def _phases(run) -> list[Phase]:
    """``stage1`` (Stage-I G and D), ``stage2`` (Stage-I frozen), ``finetune`` (both Gs end to end);
    each an Adam pair at the run's rates (paper §4: 2e-4, β1 0.5, halved every 100 epochs)."""
    cfg: StackGANConfig = run.model
    phases = [Phase("stage1", cfg.stage1_steps, {"d": adam(run, ("netD1",), run.lr_d),
                                                 "g": adam(run, ("ca1", "netG1"), run.lr_g)})]
    if cfg.stages == 2:
        ca2 = ("ca2",) if cfg.text_twice else ()
        phases.append(Phase("stage2", cfg.stage2_steps, {"d": adam(run, ("netD2",), run.lr_d),
                                                         "g": adam(run, ca2 + ("netG2",), run.lr_g)}))
        phases.append(Phase("finetune", cfg.finetune_steps,
                            {"d": adam(run, ("netD2",), run.lr_d),
                             "g": adam(run, ("ca1", "netG1") + ca2 + ("netG2",), run.lr_g)}))
    return [p for p in phases if p.steps > 0]


def _kl_weight(cfg: StackGANConfig, phase_step: int) -> float:
    """λ, ramped linearly over the first ``kl_warmup_steps`` of each phase (``phase_step`` from 0)."""
    if cfg.kl_warmup_steps <= 0:
        return cfg.kl_weight
    return cfg.kl_weight * min(1.0, (phase_step + 1) / cfg.kl_warmup_steps)


def _augment(ca: nn.Module, right: torch.Tensor, wrong: torch.Tensor | None):
    """One CA call (one forward per backward under DDP) on [right; wrong] when the wrong μ is needed.

    Returns (ĉ ``[B, N_g]``, μ ``[B, N_g]``, log σ² ``[B, N_g]`` or None, wrong μ ``[B, N_g]`` or None)."""
    B = right.shape[0]
    c, mu, logvar = ca(right if wrong is None else torch.cat([right, wrong]))
    mu_wrong = None if wrong is None else mu[B:]
    return c[:B], mu[:B], (None if logvar is None else logvar[:B]), mu_wrong


def _train_step(batch: dict, ctx: StepContext) -> None:
    """One D update then one G update of the phase's stage (the reference codes' order)."""
    cfg: StackGANConfig = ctx.cfg.model
    nets, phase = ctx.nets, ctx.phase.name
    right = batch["text"] * cfg.embedding_scale        # [B, E]
    wrong = batch["wrong_text"] * cfg.embedding_scale  # [B, E]
    real = batch["image"]                                   # [B, C, R, R] at the final resolution
    B = real.shape[0]
    mu_mode = cfg.d_condition == "mu"
    z = torch.randn(B, cfg.z_dim, device=real.device)
    kl_terms = []  # (μ, log σ²) of every CA that learns in this phase

    with ctx.autocast():
        if phase == "stage1":
            d_name = "netD1"
            factor = real.shape[-1] // cfg.stage1_resolution
            if factor > 1:  # Stage-I's real images: the batch area-downsampled to W0
                real = F.avg_pool2d(real, factor)  # [B, C, R1, R1]
            c1, mu1, logvar1, mu1_wrong = _augment(nets["ca1"], right, wrong if mu_mode else None)
            kl_terms.append((mu1, logvar1))
            fake = nets["netG1"](c1, z)  # [B, C, R1, R1]
            d_right, d_wrong = (mu1.detach(), mu1_wrong.detach()) if mu_mode else (right, wrong)
        else:
            d_name = "netD2"
            finetune = phase == "finetune"
            stage1_wrong = wrong if (mu_mode and not cfg.text_twice) else None
            with contextlib.nullcontext() if finetune else torch.no_grad():
                c1, mu1, logvar1, mu_wrong = _augment(nets["ca1"], right, stage1_wrong)
                s0 = nets["netG1"](c1, z)  # [B, C, R1, R1]
            if finetune:
                kl_terms.append((mu1, logvar1))
            mu_right = mu1
            c2 = None
            if cfg.text_twice:
                c2, mu_right, logvar2, mu_wrong = _augment(nets["ca2"], right, wrong if mu_mode else None)
                kl_terms.append((mu_right, logvar2))
            fake = nets["netG2"](s0, c2)  # [B, C, R, R]
            d_right, d_wrong = (mu_right.detach(), mu_wrong.detach()) if mu_mode else (right, wrong)

        D = nets[d_name]
        # D is called once per (image, condition) group, as in the reference code: with batch norm
        # in D, a batch mixing real and fake images would be normalised differently from the
        # all-fake batch of the G step, and G would be trained against a D it never meets.
        # The real batch is encoded once for its right and wrong conditions (as the reference code);
        # the losses are those of two separate calls, but D's BN running statistics (unused: D is
        # never run in eval mode) move once, and float sums may differ in the last bits.
        (s_r, u_r, s_w), (s_f, u_f) = D(real, d_right, d_wrong), D(fake.detach(), d_right)
        s_r, s_w, s_f = s_r.float(), s_w.float(), s_f.float()
        if u_r is None:
            loss_d = losses.d_loss_matching_aware(s_r, s_w, s_f)
        else:  # StackGAN-Pytorch Stage-II: (real + uncond real)/2 + (fake + wrong + uncond fake)/3
            u_r, u_f = u_r.float(), u_f.float()
            real_terms = losses.bce(s_r, True) + losses.bce(u_r, True)
            fake_terms = losses.bce(s_f, False) + losses.bce(s_w, False) + losses.bce(u_f, False)
            loss_d = real_terms / 2 + fake_terms / 3
    ctx.update("d", loss_d)

    with ctx.fixed(d_name) as D_fixed:  # G's step: D is a fixed function (no weight gradients)
        with ctx.autocast():
            s, u = D_fixed(fake, d_right)
            loss_adv = losses.g_loss_nonsaturating(s.float())
            if u is not None:
                loss_adv = loss_adv + losses.g_loss_nonsaturating(u.float())
            loss_g, parts = loss_adv, {"g_adv": loss_adv.detach()}
            kl_terms = [(m, lv) for m, lv in kl_terms if lv is not None]  # CA off: no KL term at all
            if kl_terms:
                kl = sum(losses.kl_loss(m.float(), lv.float(), cfg.kl_reduction) for m, lv in kl_terms)
                loss_g = loss_g + _kl_weight(cfg, ctx.step) * kl
                parts["kl"] = kl.detach()
        ctx.update("g", loss_g, d_real=torch.sigmoid(s_r).mean(), d_wrong=torch.sigmoid(s_w).mean(),
                   d_fake=torch.sigmoid(s_f).mean(), **parts)


# ----------------------------------------------------------------------------------------------
# generation

def _noise_shapes(cfg: StackGANConfig) -> dict[str, tuple[int, ...]]:
    shapes = {"z": (cfg.z_dim,), "eps1": (cfg.cond_dim,)}
    if cfg.stages == 2:
        shapes["eps2"] = (cfg.cond_dim,)
    return shapes


def _generate(model: StackGAN, condition: dict, noise: dict) -> dict:
    """Images from caption embeddings ``condition["text"]`` ``[B, E]`` and explicit noise ``{"z", "eps1"[, "eps2"]}``.

    ``eps1`` / ``eps2`` are the CA noises of the two stages: ĉ = μ + σ ⊙ ε, so **zero ε gives ĉ = μ**,
    the deterministic condition (CA sampling off, e.g. for the demo's interpolations). Every entry of
    ``noise_shapes`` must be present; with ``ca=False`` the ε entries are ignored.

    Returns:
        ``{"stage1": [B, C, R1, R1], "image": [B, C, R, R]}`` for two stages, ``{"image": ...}`` for one.
    """
    cfg: StackGANConfig = model.cfg
    missing = sorted(set(_noise_shapes(cfg)) - set(noise))
    if missing:
        raise ValueError(f"stackgan.generate needs noise {sorted(_noise_shapes(cfg))}, missing {missing}; "
                         f"pass zeros for eps1/eps2 to use the CA mean μ")
    e = condition["text"] * cfg.embedding_scale  # [B, E]
    c1 = model.ca1(e, noise["eps1"])[0]
    s1 = model.netG1(c1, noise["z"])  # [B, C, R1, R1]
    if cfg.stages == 1:
        return {"image": s1}
    c2 = model.ca2(e, noise["eps2"])[0] if cfg.text_twice else None
    return {"stage1": s1, "image": model.netG2(s1, c2)}


# ----------------------------------------------------------------------------------------------
# presets

_PAPER_STEPS = 600 * CUB_STEPS_PER_EPOCH  # paper §4: 600 epochs per stage, lr halved every 100 epochs

STAGE2_FIELDS = ("stage2_steps", "finetune_steps", "ngf2", "ndf2", "num_residual", "text_twice",
                 "stage2_uncond_head", "stage2_encoder_down")


def _canonical(cfg: StackGANConfig) -> StackGANConfig:
    """A single-stage config ignores every Stage-II field: reset them to their defaults."""
    if cfg.stages == 2:
        return cfg
    defaults = StackGANConfig()
    return dataclasses.replace(cfg, **{f: getattr(defaults, f) for f in STAGE2_FIELDS})


SPEC = ModelSpec(
    name="stackgan",
    config_cls=StackGANConfig,
    presets={
        "smoke": {"model": {"stage1_resolution": 8, "stage1_steps": 2, "stage2_steps": 2, "z_dim": 8,
                            "cond_dim": 8, "ngf1": 8, "ndf1": 8, "ngf2": 8, "ndf2": 8, "d_proj_dim": 8,
                            "num_residual": 1},
                  "resolution": 16, "batch_size": 8, "text_encoder": "hash", "dataset_size": 64,
                  "log_every": 1, "sample_every": 2, "checkpoint_every": 2},
        # CPU scale (16×16 Stage-I → 64×64; 32×32 is the middle resolution, with model.num_residual=2 as
        # the paper's 128×128 StackGAN). Widths, batch and steps were chosen by measured step times, to train
        # all ten rows of Table 2 in about an hour of one core per seed (timings: docs/stackgan.md).
        # MiniLM vectors are unit-norm (≈0.05 per dim), which left CA's μ buried under σ ≈ 1 and G
        # ignoring the caption (the known risk, reproduced by the CA probe in docs/stackgan.md): scale
        # them to unit RMS per dim (√384 ≈ 19.6) and average the KL over dims (the reference code's
        # reduction), which the probe found to restore conditioning with CA on.
        "quick": {"model": {"stage1_resolution": 16, "stage1_steps": 2000, "stage2_steps": 1500,
                            "z_dim": 100, "cond_dim": 128, "ngf1": 16, "ndf1": 16, "ngf2": 16, "ndf2": 16,
                            "num_residual": 4, "embedding_scale": 19.6, "kl_reduction": "mean",
                            # the paper's joint grid is 16×16 (64-px Stage-I); a 16-px Stage-I encoded
                            # to 4×4 loses its layout. This and the mean KL were re-decided on the val
                            # split (docs/stackgan.md, "re-decided on the validation split")
                            "stage2_encoder_down": 1},
                  # channels_last: chosen for speed at this size on CPU (timings: results/perf/cpu.md,
                  # docs/stackgan.md); it changes float results, so it is part of the preset
                  "channels_last": True,
                  "resolution": 64, "batch_size": 32, "log_every": 25, "sample_every": 500,
                  "checkpoint_every": 500},
        # Paper §3–4: 64 → 256, N_g 128, N_z 100, GF_DIM 128, DF_DIM 64, 4 residual blocks, batch 64,
        # Adam 2e-4 (β1 0.5), lr halved every 100 epochs, 600 epochs per stage on CUB.
        "paper": {"model": {"stage1_resolution": 64, "stage1_steps": _PAPER_STEPS, "stage2_steps": _PAPER_STEPS,
                            "z_dim": 100, "cond_dim": 128, "ngf1": 128, "ndf1": 64, "ngf2": 128, "ndf2": 64,
                            "num_residual": 4},
                  "resolution": 256, "batch_size": 64, "lr_decay_every": 100 * CUB_STEPS_PER_EPOCH,
                  "log_every": 100, "sample_every": 2000, "checkpoint_every": 2000},
    },
    build=lambda cfg, info: StackGAN(cfg, info),
    phases=_phases,
    train_step=_train_step,
    generate=_generate,
    canonical=_canonical,
    noise_shapes=_noise_shapes,
    conditions=("text",),
    mismatched=True,
)

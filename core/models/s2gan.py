"""S²-GAN: Style and Structure GAN (Wang & Gupta, ECCV 2016; seed 000, ../shared/reference/s2gan.md Part A).

A **Structure-GAN** (:class:`StructureGenerator`, :class:`StructureDiscriminator`) draws surface-normal maps
from noise; a **Style-GAN** (:class:`StyleGenerator`, conditional :class:`StyleDiscriminator`) renders an image
of a normal map, held to it by a frozen normal predictor (:class:`NormalFCN`) weighted by ``fcn_weight``.
Two models: ``s2gan`` (phases ``structure``, ``style``, ``joint``; the table's rows are configurations:
``structure``, ``style``, ``fcn_weight``, ``joint_steps``, ``single``) and ``s2gan-fcn``, which trains the
normal predictor that ``s2gan`` loads with ``frozen=["netF=<run>:netF"]``. Also here: the normal helpers and
codebook, and the reference's training rules (:func:`margin_rule`, the Adam warm-up ``REFERENCE_WARMUP``).

The training scheme, the departures from the reference code (xiaolonw/ss-gan), the presets and their
timings: docs/s2gan.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError
from core.losses import angular_error, bce
from core.models.base import DataInfo, ModelSpec, Optim, Phase, StepContext, uniform_from_normal
from core.nn import D_INITS, MinibatchStd, init_discriminator, init_weights

MARGIN = 0.3                                       # adversarial_ct.lua: the margin rule's threshold
REFERENCE_WARMUP = ((10, 1 / 50), (30, 1 / 5))     # adversarial_ct.lua's Adam: lr/50 for 10 updates, lr/5 until 30
FCN_LOSSES = ("classify", "regress")


# ------------------------------------------------------------------------------------------ normals

def uniform_noise(normal: torch.Tensor) -> torch.Tensor:
    """Standard-normal draws → uniform on [−1, 1]: the reference code's noise, addressable by the pipeline's
    seeded standard-normal noise."""
    return uniform_from_normal(normal, -1.0, 1.0)


def sample_uniform(batch: int, dim: int, device) -> torch.Tensor:
    """Training noise ``[B, dim]``, uniform on [−1, 1] (``noise_inputs:uniform(-1, 1)``)."""
    return torch.rand(batch, dim, device=device) * 2 - 1


def resample_normals(normals: torch.Tensor, size: int) -> torch.Tensor:
    """Normal maps ``[B, 3, H, W]`` → ``[B, 3, size, size]``, bilinear (anti-aliased when shrinking; the
    reference's ``SpatialReSampling`` when growing), not renormalised; unchanged when already that size."""
    if normals.shape[-1] != size or normals.shape[-2] != size:
        normals = F.interpolate(normals, size=(size, size), mode="bilinear", align_corners=False,
                                antialias=size < normals.shape[-1])
    return normals


def resize_normals(normals: torch.Tensor, size: int) -> torch.Tensor:
    """Normal maps ``[B, 3, H, W]`` → ``[B, 3, size, size]``: :func:`resample_normals`, then renormalised
    to unit length per pixel."""
    return F.normalize(resample_normals(normals, size), dim=1)


def normal_codebook(k: int) -> torch.Tensor:
    """``[K, 3]`` unit normal directions on the hemisphere facing the viewer (z ≥ 0): a Fibonacci lattice,
    ``z_i = 1 − i/K`` (equal-area bands, the first codeword the flat (0, 0, 1)) and azimuth ``i·π(3 − √5)``
    (the golden angle). Deterministic, so the FCN and S²-GAN rebuild the same codebook from K."""
    i = torch.arange(k, dtype=torch.float64)
    z = 1.0 - i / k
    r = torch.sqrt((1.0 - z * z).clamp(min=0.0))
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    return F.normalize(torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], 1), dim=1).float()


def nearest_codeword(normals: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index ``[B, H, W]`` (int64) of the codeword of ``codebook`` ``[K, 3]`` nearest each normal of
    ``normals`` ``[B, 3, H, W]`` (maximum dot product, as the reference labels its FCN targets)."""
    return torch.einsum("bchw,kc->bkhw", normals, codebook.to(normals.dtype)).argmax(1)


# ------------------------------------------------------------------------------------------ networks

def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    """k×k convolution, 'same' padding (stride 2 halves an even side); with bias, as Torch's."""
    return nn.Conv2d(cin, cout, k, stride, k // 2)


def _up(cin: int, cout: int) -> nn.ConvTranspose2d:
    """4×4 transposed convolution, stride 2, padding 1: doubles the side (the reference's FullConv s2)."""
    return nn.ConvTranspose2d(cin, cout, 4, 2, 1)


def _bn_act(c: int, leaky: bool = False) -> tuple[nn.Module, nn.Module]:
    return nn.BatchNorm2d(c), (nn.LeakyReLU(0.2, inplace=True) if leaky else nn.ReLU(inplace=True))


class StructureGenerator(nn.Module):
    """Structure-G (``structure-gan/train.lua``), n = ``ngf`` (reference 64), s = ``size``/8 (72 → 9):
    z → FullConv s×s 2n → FullConv s2 2n (2s) → conv3 2n → 4n → 8n → 8n (lReLU) → FullConv s2 4n (4s) →
    conv3 2n → FullConv s2 n (8s = size) → conv5 3 → tanh → per-pixel L2 normalisation (``nn.Normalize(2)``).
    BN after every layer but the last; ReLU, then LeakyReLU 0.2 from the fourth 3×3 conv on."""

    def __init__(self, z_dim: int, ngf: int, size: int):
        super().__init__()
        n, s = ngf, size // 8
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 2 * n, s), *_bn_act(2 * n),   # [B, 2n, s, s]
            _up(2 * n, 2 * n), *_bn_act(2 * n),                     # [B, 2n, 2s, 2s]
            _conv(2 * n, 2 * n, 3), *_bn_act(2 * n),
            _conv(2 * n, 4 * n, 3), *_bn_act(4 * n),
            _conv(4 * n, 8 * n, 3), *_bn_act(8 * n),
            _conv(8 * n, 8 * n, 3), *_bn_act(8 * n, leaky=True),   # [B, 8n, 2s, 2s]
            _up(8 * n, 4 * n), *_bn_act(4 * n, leaky=True),         # [B, 4n, 4s, 4s]
            _conv(4 * n, 2 * n, 3), *_bn_act(2 * n, leaky=True),
            _up(2 * n, n), *_bn_act(n, leaky=True),                 # [B, n, size, size]
            _conv(n, 3, 5), nn.Tanh())                              # [B, 3, size, size]
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[B, Z]`` in [−1, 1] → unit normals ``[B, 3, size, size]``."""
        return F.normalize(self.net(z[:, :, None, None]), dim=1)


def _d_tail(n: int, side: int, mbstd: bool) -> list[nn.Module]:
    """The two S²-GAN Ds' last layers on ``[B, 8n, side, side]``: conv3 2n, lReLU (then, with ``mbstd``, the
    batch-spread channel of :class:`core.nn.MinibatchStd`, not the reference's) → dropout 0.5 → linear → logit."""
    return [_conv(8 * n, 2 * n, 3), nn.LeakyReLU(0.2, inplace=True), *([MinibatchStd()] if mbstd else []),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear((2 * n + int(mbstd)) * side * side, 1)]


class StructureDiscriminator(nn.Module):
    """Structure-D (no BN): conv5 s2 n → conv5 2n → conv3 s2 4n (+SpatialDropout 0.2) → conv3 s2 8n
    (+SpatialDropout 0.2) → conv3 2n @ (size/8)² → dropout 0.5 → linear → logit. LeakyReLU 0.2."""

    def __init__(self, ndf: int, size: int, center: bool = False, init: str = "normal", mbstd: bool = False):
        super().__init__()
        n, side = ndf, size // 8
        self.center = center  # see forward
        act = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        self.net = nn.Sequential(
            _conv(3, n, 5, 2), act(),                             # [B, n, size/2]
            _conv(n, 2 * n, 5), act(),
            _conv(2 * n, 4 * n, 3, 2), act(), nn.Dropout2d(0.2),  # [B, 4n, size/4]
            _conv(4 * n, 8 * n, 3, 2), act(), nn.Dropout2d(0.2),  # [B, 8n, size/8]
            *_d_tail(n, side, mbstd))
        init_weights(self)
        init_discriminator(self, init)

    def forward(self, normals: torch.Tensor) -> torch.Tensor:
        """normals ``[B, 3, size, size]`` → logits ``[B]``. With ``center``, D sees ``n − (0, 0, 1)``: the
        normal facing the viewer becomes 0. Most pixels of a ``shapes`` map face the viewer, and that
        constant (1 on every z) otherwise swamps the few tilted ones at D's bias-free start (docs/s2gan.md)."""
        if self.center:
            normals = normals - normals.new_tensor([0.0, 0.0, 1.0])[:, None, None]
        return self.net(normals).flatten()


class StyleGenerator(nn.Module):
    """Style-G (``style-gan-nofcn/train.lua``), n = ``ngf`` (reference 64), R = ``resolution``:

    - normals branch: conv5 s2 n → conv5 s2 2n (R/4);
    - z branch: FullConv (R/16)² n → FullConv s2 n → FullConv s2 n (R/4);
    - trunk on their concatenation (3n): conv3 4n → conv3 s2 8n (R/8) → conv3 8n (lReLU) → FullConv s2 4n →
      2n → n (R) → conv5 3 → tanh. BN after every layer but the last.

    ``normals=False`` (the single-DCGAN baseline): no normals branch, and the z branch's last layer gives
    3n channels, so the trunk is the same."""

    def __init__(self, z_dim: int, ngf: int, resolution: int, channels: int = 3, normals: bool = True):
        super().__init__()
        n, s = ngf, resolution // 16
        self.normals = nn.Sequential(
            _conv(3, n, 5, 2), *_bn_act(n),                        # [B, n, R/2]
            _conv(n, 2 * n, 5, 2), *_bn_act(2 * n)) if normals else None  # [B, 2n, R/4]
        zc = n if normals else 3 * n
        self.noise = nn.Sequential(
            nn.ConvTranspose2d(z_dim, n, s), *_bn_act(n),          # [B, n, R/16]
            _up(n, n), *_bn_act(n),                                # [B, n, R/8]
            _up(n, zc), *_bn_act(zc))                              # [B, zc, R/4]
        self.trunk = nn.Sequential(
            _conv(3 * n, 4 * n, 3), *_bn_act(4 * n),               # [B, 4n, R/4]
            _conv(4 * n, 8 * n, 3, 2), *_bn_act(8 * n),            # [B, 8n, R/8]
            _conv(8 * n, 8 * n, 3), *_bn_act(8 * n, leaky=True),
            _up(8 * n, 4 * n), *_bn_act(4 * n, leaky=True),        # [B, 4n, R/4]
            _up(4 * n, 2 * n), *_bn_act(2 * n, leaky=True),        # [B, 2n, R/2]
            _up(2 * n, n), *_bn_act(n, leaky=True),                # [B, n, R]
            _conv(n, channels, 5), nn.Tanh())                      # [B, C, R]
        init_weights(self)

    def forward(self, normals: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        """normals ``[B, 3, R, R]`` (``None`` without the normals branch), z ``[B, Z]`` → image ``[B, C, R, R]``."""
        h = self.noise(z[:, :, None, None])
        if self.normals is not None:
            h = torch.cat([self.normals(normals), h], 1)
        return self.trunk(h)


class StyleDiscriminator(nn.Module):
    """Style-D (no BN), conditional: [RGB ‖ normals] → conv5 s2 n → conv5 s2 2n → conv3 s2 4n
    (+SpatialDropout 0.2) → conv3 s2 8n (+SpatialDropout 0.2) → conv3 2n @ (R/16)² → dropout 0.5 → linear
    → logit. ``cond_channels=0``: unconditional (the single-DCGAN baseline)."""

    def __init__(self, ndf: int, resolution: int, channels: int = 3, cond_channels: int = 3, init: str = "normal",
                 mbstd: bool = False):
        super().__init__()
        n, side = ndf, resolution // 16
        act = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        self.cond_channels = cond_channels
        self.net = nn.Sequential(
            _conv(channels + cond_channels, n, 5, 2), act(),       # [B, n, R/2]
            _conv(n, 2 * n, 5, 2), act(),                          # [B, 2n, R/4]
            _conv(2 * n, 4 * n, 3, 2), act(), nn.Dropout2d(0.2),   # [B, 4n, R/8]
            _conv(4 * n, 8 * n, 3, 2), act(), nn.Dropout2d(0.2),   # [B, 8n, R/16]
            *_d_tail(n, side, mbstd))
        init_weights(self)
        init_discriminator(self, init)

    def forward(self, image: torch.Tensor, normals: torch.Tensor | None = None) -> torch.Tensor:
        """image ``[B, C, R, R]`` (‖ normals ``[B, 3, R, R]`` when conditional) → logits ``[B]``."""
        x = torch.cat([image, normals], 1) if self.cond_channels else image
        return self.net(x).flatten()


class NormalFCN(nn.Module):
    """The training normal predictor: image ``[B, C, R, R]`` → per-pixel normals at ``R / out_stride``.

    Encoder conv3 w → conv4 s2 2w → conv3 2w → conv4 s2 4w → conv3 4w (R/4), then FullConv s2 back up to
    R/out_stride (halving the width each time), then a conv3 head: ``K`` logits over :func:`normal_codebook`
    (``loss="classify"``, the reference's 40-way per-pixel softmax) or 3 channels normalised to unit normals
    (``"regress"``). BN and ReLU after every layer but the head."""

    def __init__(self, width: int, codewords: int, loss: str, out_stride: int, channels: int = 3):
        super().__init__()
        if loss not in FCN_LOSSES:
            raise ConfigError(f"fcn_loss must be one of {list(FCN_LOSSES)}, got {loss!r}")
        if out_stride not in (1, 2, 4):
            raise ConfigError(f"fcn_out_stride must be 1, 2 or 4, got {out_stride}")
        w = width
        self.loss = loss
        layers = [_conv(channels, w, 3), *_bn_act(w),
                  nn.Conv2d(w, 2 * w, 4, 2, 1), *_bn_act(2 * w), _conv(2 * w, 2 * w, 3), *_bn_act(2 * w),
                  nn.Conv2d(2 * w, 4 * w, 4, 2, 1), *_bn_act(4 * w), _conv(4 * w, 4 * w, 3), *_bn_act(4 * w)]
        c, stride = 4 * w, 4
        while stride > out_stride:
            layers += [_up(c, c // 2), *_bn_act(c // 2)]
            c, stride = c // 2, stride // 2
        self.body = nn.Sequential(*layers)                        # [B, c, R/out_stride]
        self.head = _conv(c, codewords if loss == "classify" else 3, 3)
        self.register_buffer("codebook", normal_codebook(codewords))  # [K, 3]: saved with the weights
        init_weights(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image in [−1, 1] → logits ``[B, K, h, w]`` (classify) or unit normals ``[B, 3, h, w]`` (regress)."""
        out = self.head(self.body(image))
        return out if self.loss == "classify" else F.normalize(out, dim=1)

    def normals(self, out: torch.Tensor) -> torch.Tensor:
        """The forward's output → unit normals ``[B, 3, h, w]`` (classify: the softmax-weighted codewords)."""
        if self.loss == "regress":
            return out
        return F.normalize(torch.einsum("bkhw,kc->bchw", out.softmax(1), self.codebook), dim=1)


# ------------------------------------------------------------------------------------------ configs

@dataclass(frozen=True)
class S2ganFcnConfig:
    steps: int = 2000               # training steps on real (image, normals) pairs
    optimizer: str = "adam"         # "adam" | "sgd" (the reference: SGD 0.01, momentum 0.9, batch 10)
    lr: float = 1e-3
    momentum: float = 0.9           # SGD only
    weight_decay: float = 0.0       # L2 term ½·wd·‖θ‖² in the loss (the reference: 5e-4)
    # the architecture (S²-GAN's fcn_* fields must match the run it loads netF from)
    fcn_loss: str = "classify"      # "classify": cross-entropy over the codebook (the paper); "regress": 1 − cos
    fcn_codewords: int = 40         # K (the reference's codebook_40.txt)
    fcn_width: int = 64             # w: channels at full resolution
    fcn_out_stride: int = 4         # output side = image side / this (the reference: 32² for 128²)


@dataclass(frozen=True)
class S2ganConfig:
    # what is trained (the table's rows)
    structure: bool = True          # the Structure-GAN (z → normals); False: the Style-GAN alone, on given normals
    style: bool = True              # the Style-GAN ((normals, z) → RGB); False: the Structure-GAN alone
    single: bool = False            # the baseline: one unconditional DCGAN (the Style-G trunk fed by noise alone)
    fcn_weight: float = 0.1         # λ of the FCN normal-consistency loss on the Style-G (--lamda 0.1); 0: none
    # phases (steps of each; a phase with 0 steps is skipped)
    structure_steps: int = 24_000   # Structure-GAN alone on real normals
    style_steps: int = 24_000       # Style-GAN alone on the real normals of each batch (with the FCN loss)
    joint_steps: int = 1_500        # Structure-G → Style-G end to end (no FCN loss); 0: independent only
    # optimisation (Adam, β from the run config)
    lr: float = 2e-4                # every G and D in the independent phases (every train.lua: 2e-4)
    structure_d_lr: float = 0.0     # the Structure-D's rate in the structure phase; 0: ``lr`` (the reference)
    structure_g_lr: float = 0.0     # the Structure-G's rate in the structure phase; 0: ``lr`` (the reference)
    structure_d_steps: int = 1      # Structure-D updates per Structure-G update in the structure phase (the
                                    # reference: 1); each sees the step's real maps against fresh fakes
    structure_d_center: bool = False  # the Structure-D sees n − (0, 0, 1); False: the reference
    style_d_lr: float = 0.0         # the Style-D's (and the single DCGAN's D's) rate in its independent phase; 0:
                                    # ``lr`` (the reference)
    structure_d_init: str = "normal"  # the Structure-D's weights: "normal" N(0, 0.02) (the reference's) or
                                      # "kaiming" He-normal (core.nn.init_discriminator; docs/s2gan.md, issue #27)
    structure_d_mbstd: bool = False  # a minibatch-std channel before the Structure-D's head (core.nn.MinibatchStd;
                                     # not the reference's): D sees a batch of maps that spread too little
    style_d_init: str = "normal"    # the Style-D's (and the single DCGAN's D's), the same choices, or
                                    # "kaiming-zero-head" (He-normal, logit layer 0: core.nn.init_discriminator)
    style_d_mbstd: bool = False     # the same switch for the Style-D (and the single DCGAN's D)
    # λ_ms of a mode-seeking term on the Style-G in its independent phase (Mao et al., CVPR 2019; not the
    # reference's): two style noises on the same structures, loss λ_ms / (mean|G(n,z)−G(n,z′)| / mean|z−z′| + 1e-5),
    # so renderings that ignore z cost G. 0: none (the reference)
    style_ms_weight: float = 0.0
    joint_lr_style: float = 1e-6    # Style-G and Style-D in the joint phase (joint-ssgan/train.lua)
    joint_lr_structure: float = 1e-7  # Structure-G and -D in the joint phase (the code: × 0.001 = 1e-9; see above)
    joint_structure_scale: float = 0.1  # the Style-G's gradient on its normals input reaches the Structure-G × this
    adam_warmup: bool = True        # rate/50 for the first 10 updates of a phase, rate/5 until 30 (adversarial_ct.lua)
    margin_rule: bool = True        # skip D if err_real or err_fake < 0.3, G if either > 0.7; both skipped → both
    # sizes (the reference's layer stacks; n = 64 everywhere)
    structure_size: int = 72        # side of the Structure-G's normal maps (a multiple of 8); 0: the image side
    structure_z_dim: int = 100
    style_z_dim: int = 100
    structure_ngf: int = 64
    structure_ndf: int = 64
    style_ngf: int = 64
    style_ndf: int = 64
    # the frozen FCN (must match the s2gan-fcn run netF is loaded from)
    fcn_loss: str = "classify"
    fcn_codewords: int = 40
    fcn_width: int = 64
    fcn_out_stride: int = 4


_FCN_FIELDS = ("fcn_loss", "fcn_codewords", "fcn_width", "fcn_out_stride")


def uses_fcn(cfg: S2ganConfig) -> bool:
    """Whether the run needs the frozen FCN: a conditional Style-GAN phase with λ > 0."""
    return cfg.style and not cfg.single and cfg.fcn_weight > 0 and cfg.style_steps > 0


def _check(cfg: S2ganConfig, resolution: int | None = None) -> None:
    if cfg.single and (cfg.structure or cfg.joint_steps or cfg.structure_steps or cfg.fcn_weight):
        raise ConfigError("single=True is one unconditional DCGAN: set structure=False, structure_steps=0, "
                          "joint_steps=0 and fcn_weight=0, and give its budget to style_steps")
    if not cfg.style and not cfg.single and (cfg.style_steps or cfg.joint_steps):
        raise ConfigError("style=False trains the Structure-GAN alone: set style_steps=0 and joint_steps=0")
    if not cfg.structure and (cfg.structure_steps or cfg.joint_steps):
        raise ConfigError("structure=False trains the Style-GAN alone on real normals: set structure_steps=0 "
                          "and joint_steps=0")
    if not (cfg.structure or cfg.style or cfg.single):
        raise ConfigError("S²-GAN needs structure=True and/or style=True")
    for name in ("structure_d_init", "style_d_init"):
        if getattr(cfg, name) not in D_INITS:
            raise ConfigError(f"{name} must be one of {list(D_INITS)}, got {getattr(cfg, name)!r}")
    if cfg.structure_d_lr < 0 or cfg.structure_g_lr < 0 or cfg.style_d_lr < 0:
        raise ConfigError(f"structure_d_lr, structure_g_lr and style_d_lr must be >= 0 (0: lr), got "
                          f"{cfg.structure_d_lr}, {cfg.structure_g_lr}, {cfg.style_d_lr}")
    if cfg.structure_d_steps < 1:
        raise ConfigError(f"structure_d_steps must be >= 1, got {cfg.structure_d_steps}")
    if cfg.style_ms_weight < 0:
        raise ConfigError(f"style_ms_weight must be >= 0, got {cfg.style_ms_weight}")
    if cfg.fcn_weight < 0 or cfg.joint_structure_scale < 0:
        raise ConfigError(f"fcn_weight and joint_structure_scale must be >= 0, got {cfg.fcn_weight}, "
                          f"{cfg.joint_structure_scale}")
    if cfg.fcn_loss not in FCN_LOSSES:
        raise ConfigError(f"fcn_loss must be one of {list(FCN_LOSSES)}, got {cfg.fcn_loss!r}")
    if min(cfg.structure_steps, cfg.style_steps, cfg.joint_steps) < 0 or not (
            cfg.structure_steps + cfg.style_steps + cfg.joint_steps):
        raise ConfigError("S²-GAN needs structure_steps, style_steps or joint_steps > 0 (none negative)")
    if resolution is not None:
        if (cfg.style or cfg.single) and resolution % 16:
            raise ConfigError(f"the Style-GAN's layer stack (R/4, R/8, R/16 sides) needs a resolution that is a "
                              f"multiple of 16, e.g. 16, 32, 64 or 128; got {resolution}")
        size = cfg.structure_size or resolution
        if cfg.structure and size % 8:
            raise ConfigError(f"the Structure-GAN's layer stack (size/8 → size) needs structure_size a multiple "
                              f"of 8 (the reference: 72); got {size}")


def _canonical(cfg: S2ganConfig) -> S2ganConfig:
    """Fields a configuration does not use, reset (so equal runs compare equal)."""
    d = S2ganConfig()
    if cfg.structure_d_lr == cfg.lr:
        cfg = replace(cfg, structure_d_lr=d.structure_d_lr)
    if cfg.structure_g_lr == cfg.lr:
        cfg = replace(cfg, structure_g_lr=d.structure_g_lr)
    if cfg.style_d_lr == cfg.lr:
        cfg = replace(cfg, style_d_lr=d.style_d_lr)
    if not cfg.structure:
        cfg = replace(cfg, structure_size=d.structure_size, structure_z_dim=d.structure_z_dim,
                      structure_ngf=d.structure_ngf, structure_ndf=d.structure_ndf, structure_d_lr=d.structure_d_lr,
                      structure_g_lr=d.structure_g_lr, structure_d_steps=d.structure_d_steps,
                      structure_d_init=d.structure_d_init, structure_d_mbstd=d.structure_d_mbstd,
                      structure_d_center=d.structure_d_center)
    if not (cfg.style or cfg.single):
        cfg = replace(cfg, style_z_dim=d.style_z_dim, style_ngf=d.style_ngf, style_ndf=d.style_ndf,
                      style_d_init=d.style_d_init, style_d_lr=d.style_d_lr, style_d_mbstd=d.style_d_mbstd,
                      style_ms_weight=d.style_ms_weight)
    if not uses_fcn(cfg):
        cfg = replace(cfg, **{k: getattr(d, k) for k in _FCN_FIELDS})
        if not (cfg.style and not cfg.single and cfg.style_steps):
            cfg = replace(cfg, fcn_weight=d.fcn_weight)
    if cfg.joint_steps == 0:
        cfg = replace(cfg, joint_lr_style=d.joint_lr_style, joint_lr_structure=d.joint_lr_structure,
                      joint_structure_scale=d.joint_structure_scale)
    return cfg


# ------------------------------------------------------------------------------------------ the models

class S2GAN(nn.Module):
    """Sub-networks: netG_structure and netD_structure (with the Structure-GAN), netG_style and netD_style
    (with the Style-GAN, or the single DCGAN), netF (frozen, from an ``s2gan-fcn`` run, when λ > 0)."""

    def __init__(self, cfg: S2ganConfig, info: DataInfo):
        super().__init__()
        _check(cfg, info.resolution)
        self.cfg = cfg
        self.resolution = info.resolution
        self.structure_size = cfg.structure_size or info.resolution
        if cfg.structure:
            self.netG_structure = StructureGenerator(cfg.structure_z_dim, cfg.structure_ngf, self.structure_size)
            self.netD_structure = StructureDiscriminator(cfg.structure_ndf, self.structure_size, cfg.structure_d_center,
                                                         cfg.structure_d_init, cfg.structure_d_mbstd)
        if cfg.style or cfg.single:
            self.netG_style = StyleGenerator(cfg.style_z_dim, cfg.style_ngf, info.resolution, info.channels,
                                             normals=not cfg.single)
            self.netD_style = StyleDiscriminator(cfg.style_ndf, info.resolution, info.channels,
                                                 cond_channels=0 if cfg.single else 3, init=cfg.style_d_init,
                                                 mbstd=cfg.style_d_mbstd)
        if uses_fcn(cfg):
            self.netF = NormalFCN(cfg.fcn_width, cfg.fcn_codewords, cfg.fcn_loss, cfg.fcn_out_stride, info.channels)


class FcnModel(nn.Module):
    def __init__(self, cfg: S2ganFcnConfig, info: DataInfo):
        super().__init__()
        if cfg.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"optimizer must be 'adam' or 'sgd', got {cfg.optimizer!r}")
        if info.resolution % 4:
            raise ConfigError(f"the FCN (two stride-2 convolutions) needs a resolution divisible by 4, got "
                              f"{info.resolution}")
        self.netF = NormalFCN(cfg.fcn_width, cfg.fcn_codewords, cfg.fcn_loss, cfg.fcn_out_stride, info.channels)


# ------------------------------------------------------------------------------------------ losses

def normal_loss(fcn: NormalFCN, out: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """The FCN's loss of its output ``out`` (``fcn(image)``) against unit normals ``[B, 3, H, W]``, which
    are first resized to the output's side: classify, the mean per-pixel cross-entropy against each
    pixel's nearest codeword (the reference's NLL on a LogSoftMax); regress, the mean of 1 − cos."""
    target = resize_normals(normals.float(), out.shape[-1])  # [B, 3, h, w]
    if fcn.loss == "classify":
        return F.cross_entropy(out.float(), nearest_codeword(target, fcn.codebook))
    return (1.0 - (out.float() * target).sum(1)).mean()


def feed_back(normals: torch.Tensor, grad: torch.Tensor, scale: float) -> torch.Tensor:
    """A loss whose value is 0 and whose gradient with respect to ``normals`` is ``scale · grad``: the
    joint phase's path from the Style-G back into the Structure-G. ``grad`` is the Style-G loss's
    gradient on the normals it was fed (computed in the Style-G's own update), so the Structure-G
    receives it scaled (``joint_train_bi.lua``: ``model_upsample:backward(...) * lamda0``) through the
    resampling and renormalisation that produced ``normals``."""
    g = (scale * grad).detach()
    return (normals * g).sum() - (normals.detach() * g).sum()


def margin_rule(err_real: float, err_fake: float) -> tuple[bool, bool]:
    """(update D, update G) under the reference code's rule (``adversarial_ct.lua``): D's update is skipped
    when D is already good on either half (BCE below 0.3), G's when D is bad on either (above 0.7); when
    both would be skipped, both update."""
    update_d = not (err_real < MARGIN or err_fake < MARGIN)
    update_g = not (err_real > 1 - MARGIN or err_fake > 1 - MARGIN)
    if not update_d and not update_g:
        return True, True
    return update_d, update_g


# ------------------------------------------------------------------------------------------ training

def _adam(run, modules: tuple[str, ...], lr: float) -> Optim:
    cfg: S2ganConfig = run.model
    return Optim(modules, lr=lr, betas=(run.beta1, run.beta2), decay_every=run.lr_decay_every,
                 warmup_factors=REFERENCE_WARMUP if cfg.adam_warmup else ())


def _phases(run) -> list[Phase]:
    """``structure`` and ``style`` (or ``single``), each training one GAN, then ``joint``; one optimizer
    per network, so the margin rule can skip each one's update."""
    cfg: S2ganConfig = run.model
    structure = {"d_structure": _adam(run, ("netD_structure",), cfg.structure_d_lr or cfg.lr),
                 "g_structure": _adam(run, ("netG_structure",), cfg.structure_g_lr or cfg.lr)}
    style = {"d_style": _adam(run, ("netD_style",), cfg.style_d_lr or cfg.lr),
             "g_style": _adam(run, ("netG_style",), cfg.lr)}
    phases = []
    if cfg.structure and cfg.structure_steps:
        phases.append(Phase("structure", cfg.structure_steps, structure))
    if cfg.single:
        phases.append(Phase("single", cfg.style_steps, style))
    elif cfg.style and cfg.style_steps:
        phases.append(Phase("style", cfg.style_steps, style))
    if cfg.joint_steps:
        phases.append(Phase("joint", cfg.joint_steps, {
            "d_style": _adam(run, ("netD_style",), cfg.joint_lr_style),
            "g_style": _adam(run, ("netG_style",), cfg.joint_lr_style),
            "d_structure": _adam(run, ("netD_structure",), cfg.joint_lr_structure),
            "g_structure": _adam(run, ("netG_structure",), cfg.joint_lr_structure)}))
    return phases


def mode_seeking_ratio(G: nn.Module, normals: torch.Tensor | None, z: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """MSGAN's ratio (Mao et al., CVPR 2019): G renders the same structures again under fresh noise z′, and the
    mean absolute image difference is divided by the mean absolute noise difference. A G that ignores its noise
    scores 0. ``fake`` = G(normals, z) ``[B, C, R, R]``; returns a scalar with gradients into G."""
    z2 = sample_uniform(z.shape[0], z.shape[1], z.device)                # [B, Z]
    fake2 = G(normals, z2)                                               # [B, C, R, R]
    return (fake - fake2).abs().mean() / (z - z2).abs().mean()


def _decide(ctx: StepContext, err_real: torch.Tensor, err_fake: torch.Tensor, tag: str) -> tuple[bool, bool]:
    """The margin rule's (update D, update G) when the config turns it on (else both); the BCE values are
    averaged over processes first, so every DDP rank decides alike."""
    if not ctx.cfg.model.margin_rule:
        return True, True
    errs = torch.stack([err_real.detach().float(), err_fake.detach().float()])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(errs)
        errs = errs / torch.distributed.get_world_size()
    update_d, update_g = margin_rule(float(errs[0]), float(errs[1]))
    ctx.log(f"skip_d_{tag}", float(not update_d))
    ctx.log(f"skip_g_{tag}", float(not update_g))
    return update_d, update_g


def _d_update(ctx: StepContext, role: str, s_real: torch.Tensor, s_fake: torch.Tensor, tag: str) -> bool:
    """One discriminator's BCE on B real and B fake items, ½(err_real + err_fake) (the reference's mean over
    its half-and-half batch); updates it unless the margin rule says no. Returns whether G may update."""
    err_real, err_fake = bce(s_real, True), bce(s_fake, False)
    update_d, update_g = _decide(ctx, err_real, err_fake, tag)
    loss = 0.5 * (err_real + err_fake)
    parts = {f"{tag}_err_real": err_real, f"{tag}_err_fake": err_fake}
    _update(ctx, role, loss, update_d, **parts)
    return update_g


def _update(ctx: StepContext, role: str, loss: torch.Tensor, allowed: bool, **parts: torch.Tensor) -> None:
    """``ctx.update`` when the margin rule allows it; else only log what it would have logged."""
    if allowed:
        ctx.update(role, loss, **parts)
        return
    ctx.log(f"loss_{role}", loss)
    for k, v in parts.items():
        ctx.log(k, v)


def _structure_step(batch: dict, ctx: StepContext) -> None:
    """The Structure-GAN alone: real normals (resized to its side) against G(z)."""
    cfg: S2ganConfig = ctx.cfg.model
    G, D = ctx.nets["netG_structure"], ctx.nets["netD_structure"]
    real = resize_normals(batch["normals"], _structure_size(ctx))      # [B, 3, S, S]
    for _ in range(cfg.structure_d_steps):  # extra D updates: the same real maps, fresh fakes
        z = sample_uniform(real.shape[0], cfg.structure_z_dim, real.device)
        with ctx.autocast():
            fake = G(z)                                                  # [B, 3, S, S], unit length
            s_real, s_fake = D(real), D(fake.detach())
        go = _d_update(ctx, "d_structure", s_real, s_fake, "structure")
    with ctx.fixed("netD_structure"):
        with ctx.autocast():
            adv = bce(D(fake), True)
        _update(ctx, "g_structure", adv, go)


def _style_step(batch: dict, ctx: StepContext) -> None:
    """The Style-GAN alone, conditioned on the batch's real normals, with λ·(FCN normal loss) on G; or the
    single DCGAN (no normals anywhere)."""
    cfg: S2ganConfig = ctx.cfg.model
    G, D = ctx.nets["netG_style"], ctx.nets["netD_style"]
    image = batch["image"]                                               # [B, C, R, R]
    normals = None if cfg.single else resize_normals(batch["normals"], image.shape[-1])  # [B, 3, R, R]
    z = sample_uniform(image.shape[0], cfg.style_z_dim, image.device)
    with ctx.autocast():
        fake = G(normals, z)                                             # [B, C, R, R]
        s_real, s_fake = D(image, normals), D(fake.detach(), normals)
    go = _d_update(ctx, "d_style", s_real, s_fake, "style")
    with ctx.fixed("netD_style"):
        with ctx.autocast():
            adv = bce(D(fake, normals), True)
            loss, parts = adv, {"adv_style": adv}
            if uses_fcn(cfg):  # the frozen FCN: no weight gradients; the gradient flows through it into G
                parts["fcn"] = normal_loss(ctx.modules["netF"], ctx.nets["netF"](fake), normals)
                loss = adv + cfg.fcn_weight * parts["fcn"]
            if cfg.style_ms_weight > 0:
                parts["ms_style"] = mode_seeking_ratio(G, normals, z, fake)
                loss = loss + cfg.style_ms_weight / (parts["ms_style"] + 1e-5)
        _update(ctx, "g_style", loss, go, **parts)


def _joint_step(batch: dict, ctx: StepContext) -> None:
    """Structure-G → Style-G (``joint_train_bi.lua``). Both discriminators step first: the Style-D on (real
    RGB, real normals) against (fake RGB, the fake normals it was rendered from), the Structure-D on real
    normals against the Structure-G's. Then the Style-G steps on its BCE, and the Structure-G on its own
    D's BCE plus the gradient of the Style-G's loss on its normals input, scaled by
    ``joint_structure_scale`` (:func:`feed_back`). Both gradients are taken at the same (pre-update)
    parameters, as the reference's ``fevalG`` / ``fevalG1`` take them, from one Style-G forward."""
    cfg: S2ganConfig = ctx.cfg.model
    Gs, Ds = ctx.nets["netG_style"], ctx.nets["netD_style"]
    G1, D1 = ctx.nets["netG_structure"], ctx.nets["netD_structure"]
    image = batch["image"]                                               # [B, C, R, R]
    B, R = image.shape[0], image.shape[-1]
    real_normals = resize_normals(batch["normals"], R)                   # [B, 3, R, R]
    real_structure = resize_normals(batch["normals"], _structure_size(ctx))  # [B, 3, S, S]
    z1 = sample_uniform(B, cfg.structure_z_dim, image.device)
    z = sample_uniform(B, cfg.style_z_dim, image.device)
    with ctx.autocast():
        structure = G1(z1)                                               # [B, 3, S, S]
        normals = resize_normals(structure.float(), R)                   # [B, 3, R, R], a function of G1
    # the Style-G's input: a leaf, so after the Style-G's update its .grad is dL_style / dnormals
    fed = normals.detach().requires_grad_(True)
    with ctx.autocast():
        fake = Gs(fed, z)                                                # [B, C, R, R]
        s_real, s_fake = Ds(image, real_normals), Ds(fake.detach(), normals.detach())
        s1_real, s1_fake = D1(real_structure), D1(structure.detach())
    _d_update(ctx, "d_style", s_real, s_fake, "style")
    go1 = _d_update(ctx, "d_structure", s1_real, s1_fake, "structure")
    with ctx.fixed("netD_style"):
        with ctx.autocast():  # the Style-D's condition is a constant: no path into the Structure-G there
            adv = bce(Ds(fake, normals.detach()), True)
        ctx.update("g_style", adv)  # at every step (joint_train_bi.lua forces the Style-G's update)
    with ctx.fixed("netD_structure"):
        with ctx.autocast():
            adv1 = bce(D1(structure), True)
        loss = adv1 + feed_back(normals, fed.grad, cfg.joint_structure_scale)
        _update(ctx, "g_structure", loss, go1, adv_structure=adv1)


def _structure_size(ctx: StepContext) -> int:
    return ctx.cfg.model.structure_size or ctx.cfg.resolution


def _train_step(batch: dict, ctx: StepContext) -> None:
    if "normals" not in batch:
        raise ConfigError(f"S²-GAN trains on surface normals, which {ctx.cfg.dataset} does not have: use a "
                          "dataset with normals (shapes, nyuv2)")
    {"structure": _structure_step, "style": _style_step, "single": _style_step,
     "joint": _joint_step}[ctx.phase.name](batch, ctx)


# ------------------------------------------------------------------------------------------ inference

def _generate(model: S2GAN, condition: dict, noise: dict) -> dict:
    """``{"image": [B, C, R, R], "normals": [B, 3, R, R]}``: the stack samples normals from z_structure and
    renders them with z_style; the Style-GAN alone renders the given ``structure`` (resized to R); the
    Structure-GAN alone returns its normals as the image; the single DCGAN returns the image only. The
    pipeline's standard-normal noise is mapped to the uniform [−1, 1] the networks were trained on."""
    cfg = model.cfg
    if cfg.single:
        return {"image": model.netG_style(None, uniform_noise(noise["z_style"]))}
    if cfg.structure:
        normals = resize_normals(model.netG_structure(uniform_noise(noise["z_structure"])), model.resolution)
        if not cfg.style:
            return {"image": normals, "normals": normals}
    else:
        normals = resize_normals(condition["structure"].float(), model.resolution)
    return {"image": model.netG_style(normals, uniform_noise(noise["z_style"])), "normals": normals}


def _noise_shapes(cfg: S2ganConfig) -> dict[str, tuple[int, ...]]:
    """The structure's noise first, the image's last (the pipeline's convention: highest level first)."""
    out = {}
    if cfg.structure and not cfg.single:
        out["z_structure"] = (cfg.structure_z_dim,)
    if cfg.style or cfg.single:
        out["z_style"] = (cfg.style_z_dim,)
    return out


def _conditions(cfg: S2ganConfig) -> tuple[str, ...]:
    """The Style-GAN alone renders given normals; the stack, the Structure-GAN and the DCGAN take nothing."""
    return ("structure",) if cfg.style and not cfg.structure and not cfg.single else ()


# the reference's epochs are 2,000 iterations (train.lua --epochSize); the joint script's, 500
_EPOCH, _JOINT_EPOCH = 2000, 500

_SMOKE_SIZES = {"structure_size": 8, "structure_z_dim": 8, "style_z_dim": 8, "structure_ngf": 4,
                "structure_ndf": 4, "style_ngf": 4, "style_ndf": 4, "fcn_width": 4, "fcn_out_stride": 1}
_QUICK_FCN = {"fcn_width": 16, "fcn_out_stride": 1}

SPEC = ModelSpec(
    name="s2gan",
    config_cls=S2ganConfig,
    presets={
        "smoke": {"model": {"structure_steps": 2, "style_steps": 2, "joint_steps": 2, "adam_warmup": False,
                            "margin_rule": False, "joint_lr_style": 2e-5, "joint_lr_structure": 2e-6,
                            **_SMOKE_SIZES},
                  "dataset": "shapes", "resolution": 16, "batch_size": 8, "dataset_size": 32, "log_every": 1,
                  "sample_every": 10 ** 9, "checkpoint_every": 10 ** 9},
        # 32 px on shapes, a quarter of the reference widths (n = 16), structure at 24² (the reference's
        # 72/128 ratio, rounded to a multiple of 8); joint rates lowered 10× (not the reference's 200×).
        # Steps: three quarters of a first guess of 1000/1000/300, sized by `python -m bench.size --paper s2gan
        # --preset quick` to fit one seed of the table in about 45 min of one core (timings: docs/s2gan.md)
        "quick": {"model": {"structure_steps": 750, "style_steps": 750, "joint_steps": 225,
                            "adam_warmup": False, "margin_rule": False, "joint_lr_style": 2e-5,
                            "joint_lr_structure": 2e-6, "structure_size": 24, "structure_ngf": 16,
                            "structure_ndf": 16, "style_ngf": 16, "style_ndf": 16, **_QUICK_FCN},
                  "dataset": "shapes", "resolution": 32, "batch_size": 64, "log_every": 25,
                  "sample_every": 500, "checkpoint_every": 500},
        # the reference sizes: 72² structure, 128² style, n = 64, batch 64, Adam 2e-4 β1 0.5 with its warm-up
        # and margin rule; 12 epochs of each GAN (the released Structure-GAN is epoch 12; the Style-GAN's
        # epoch is not stated), then 3 joint epochs (its first checkpoint)
        "paper": {"model": {"structure_steps": 12 * _EPOCH, "style_steps": 12 * _EPOCH,
                            "joint_steps": 3 * _JOINT_EPOCH},
                  "dataset": "nyuv2", "resolution": 128, "batch_size": 64, "log_every": 100,
                  "sample_every": 5000, "checkpoint_every": 5000},
    },
    build=lambda cfg, info: S2GAN(cfg, info),
    phases=_phases,
    train_step=_train_step,
    generate=_generate,
    noise_shapes=_noise_shapes,
    conditions=_conditions,
    batch_keys=("normals",),  # every S²-GAN phase reads the real normals, conditioned or not
    pretrained=lambda cfg: ("netF",) if uses_fcn(cfg) else (),
    canonical=_canonical,
)


# ------------------------------------------------------------------------------------------ the FCN

def _fcn_phases(run) -> list[Phase]:
    cfg: S2ganFcnConfig = run.model
    opt = (Optim(("netF",), lr=cfg.lr, kind="sgd", momentum=cfg.momentum) if cfg.optimizer == "sgd" else
           Optim(("netF",), lr=cfg.lr, betas=(run.beta1, run.beta2)))
    return [Phase("fcn", cfg.steps, {"f": opt})]


def _fcn_step(batch: dict, ctx: StepContext) -> None:
    """Per-pixel cross-entropy against the nearest codeword of the real normals (or 1 − cos), plus
    ½·wd·‖θ‖²; logs the mean angular error of the predicted normals on the batch."""
    cfg: S2ganFcnConfig = ctx.cfg.model
    fcn = ctx.modules["netF"]
    out = ctx.nets["netF"](batch["image"])
    loss = normal_loss(fcn, out, batch["normals"])
    total = loss
    if cfg.weight_decay:
        total = loss + 0.5 * cfg.weight_decay * sum(p.pow(2).sum() for p in fcn.parameters())
    with torch.no_grad():
        pred = fcn.normals(out.detach()).float()                                   # [B, 3, h, w]
        err = angular_error(pred, resample_normals(batch["normals"].float(), pred.shape[-1])).mean()
    ctx.update("f", total, normal_loss=loss, err_deg=err)


FCN_SPEC = ModelSpec(
    name="s2gan-fcn",
    config_cls=S2ganFcnConfig,
    presets={
        "smoke": {"model": {"steps": 3, "fcn_width": 4, "fcn_out_stride": 1}, "dataset": "shapes",
                  "resolution": 16, "batch_size": 8, "dataset_size": 32, "log_every": 1,
                  "sample_every": 10 ** 9, "checkpoint_every": 10 ** 9},
        "quick": {"model": {"steps": 500, **_QUICK_FCN},  # (timings: docs/s2gan.md)
                  "dataset": "shapes", "resolution": 32, "batch_size": 32, "log_every": 25,
                  "sample_every": 10 ** 9, "checkpoint_every": 500},
        # train_3dnormal_fcn_cls.lua: SGD 0.01, momentum 0.9, weight decay 5e-4, batch 10, epoch 80
        "paper": {"model": {"steps": 80 * _EPOCH, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9,
                            "weight_decay": 5e-4},
                  "dataset": "nyuv2", "resolution": 128, "batch_size": 10, "log_every": 100,
                  "sample_every": 10 ** 9, "checkpoint_every": 10_000},
    },
    build=lambda cfg, info: FcnModel(cfg, info),
    phases=_fcn_phases,
    train_step=_fcn_step,
    generate=None,  # a normal predictor: no images, no sample grids; the Pipeline refuses it
    noise_shapes=lambda cfg: {},
    conditions=("structure",),  # it reads (image, normals) pairs: the loop checks the dataset has normals
)

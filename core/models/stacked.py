"""Stacked vs single GANs across layer types (Deshmukh, Franz & Tu, "Exploring Stacked Generative
Adversarial Networks"; seed 003, ../shared/reference/s2gan.md Part B; issue #18).

Not Huang et al.'s Stacked GAN (that is ``sgan``): this is the student study asking whether a two-stage
stack helps at a fixed target resolution, for three layer types, and whether letting the Stage-II loss
flow back into Stage-I helps. Unconditional: normal noise in, no text or labels.

One model, two switches (``StackedConfig``):

- ``layer``: the networks' layer type, the paper's §3.3 shapes at ``paper``:

  - ``dense``: G with hidden layers 256, 512, 1024; D with 256, 64 and dropout; each hidden layer
    Linear → LeakyReLU → batch norm (the paper's order: "passed through a leaky-relu ... the output was
    normalized using batch normalization");
  - ``conv``: G's body is five 3×3 stride-1 convolutions of 256 filters (same padding) and one transposed
    convolution that doubles the side and gives the image;
  - ``deepconv``: G is one FC layer, then transposed convolutions of 256, 128, 64 and 3 filters, kernel 5,
    stride 2, LeakyReLU, tanh output (the text says "five transposed convs", its list gives four: four here).

- ``mode``: how the target resolution R is reached:

  - ``single``: one GAN at R (``netG1`` from z, ``netD1``), phase ``single`` of ``stage1_steps +
    stage2_steps`` updates (the stack's total, so both see as many training batches);
  - ``stacked``: Stage-I (``netG1``: z → R/2, ``netD1``) trained first (phase ``stage1``), then frozen;
    Stage-II ``netG2`` takes Stage-I's image and **no latent** and makes R, against its own ``netD2``
    (phase ``stage2``);
  - ``full``: the same, but ``netG1`` is trainable in ``stage2``: the Stage-II loss back-propagates
    through both generators (the paper's "stacked backpropagating GAN", §3.5). ``netD1`` is frozen there.

Freezing is the loop's: a sub-network named in no optimizer of a phase gets ``requires_grad=False`` and
``eval()`` (so its batch-norm statistics do not move), exactly as StackGAN's ``stage2`` phase freezes its
Stage-I. All the stacking logic of this file is :func:`_phases` (who learns when) and the ``stage2``
branch of :func:`_train_step` (Stage-II's input is Stage-I's output). In the benchmark a Stage-II row
starts from a Stage-I trained once per layer type and seed (``stage1_steps=0`` plus the run config's
``init_from``/``init_modules``, as StackGAN's table chains its Stage-II rows), so the stacked and full rows
of one seed share the same Stage-I.

Each Stage-II generator is its layer type's generator with the latent stem replaced by an image input
(the paper: "composed with similar layer architecture as their baseline, with the stage 2 generator
differing in that it does not take a latent input, but instead uses a 64×64×3 image input"):

- dense: the flattened R/2 image instead of z;
- conv: the R/2 image enters the conv body directly; the single/Stage-I G maps z by an FC layer to a
  3-channel R/2 map first, so the two bodies (all but the stem) are the same network;
- deepconv: a stride-2 k5 conv encoder (64, 128, 256 filters: the transposed convs mirrored) takes the R/2
  image to the R/16 grid where the FC layer would put z's features; the transposed-conv stack is the same.

Discriminators are "not specified beyond the same layer type" (Part B.1): dense as the paper; conv five 3×3
convs of the same width (the first stride 1, then stride 2); deepconv k5 stride-2 convs of 64, 128, 256
filters (the DCGAN mirror). LeakyReLU 0.2 everywhere but the outputs; images in [−1, 1] with tanh (the
reference's caveat: the paper scaled data to [0, 1] yet ended in tanh). Losses: binary cross-entropy
(D: real vs fake; G: non-saturating), from :mod:`core.losses`.

Optimizer: "either Adam or RMSprop, depending on the layer composition", with no rates (§3.2). The first
guess came from the public examples the paper's shapes resemble: dense G 256/512/1024 with LeakyReLU + BN is
Keras-GAN's ``gan.py`` (Adam 2e-4, β1 0.5); the conv G of 256-filter convs around one transposed conv is
Chollet's Keras DCGAN (RMSprop, G 4e-4, D 8e-4); the deep-conv G is the TensorFlow DCGAN tutorial's (Adam;
DCGAN's 2e-4, β1 0.5). On the shapes validation split RMSprop won for all three (:data:`LAYER_OPTIM`).
``optimizer``, ``lr_g`` and ``lr_d`` override them.
"""
from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core import losses
from core.errors import ConfigError
from core.models.base import DataInfo, ModelSpec, Optim, Phase, StepContext, adam
from core.nn import D_INITS, MinibatchStd, init_discriminator, init_weights

LAYERS = ("dense", "conv", "deepconv")
DENSE_D_NORMS = ("batch", "layer", "none")
MODES = ("single", "stacked", "full")
CUB_STEPS_PER_EPOCH = 8855 // 64  # CUB-200-2011 train split at batch 64

# layer type -> (optimizer kind, G rate, D rate). The paper names neither which layer type used which optimizer
# nor any rate; the candidates come from the public examples the module docstring names. Chosen on the shapes
# *validation* split by the sweeps stacked-optimizer-<layer> (bench/sweeps/stacked_optimizer.py: each layer type's
# Stage-I, single at 32 px, quick steps, seeds 0 and 1; rule written before running: keep the first guess unless
# the other is lower in mean val FID by more than 1.0). Val FID, Adam 2e-4 / RMSprop 4e-4 (G), 8e-4 (D): dense
# 55.5 / 48.9, conv 27.9 / 14.9, deep-conv 48.7 / 17.6, so RMSprop for all three (docs/stacked.md)
LAYER_OPTIM = {"dense": ("rmsprop", 4e-4, 8e-4), "conv": ("rmsprop", 4e-4, 8e-4), "deepconv": ("rmsprop", 4e-4, 8e-4)}


@dataclass(frozen=True)
class StackedConfig:
    # ---- the study's two switches
    layer: str = "deepconv"          # "dense" | "conv" | "deepconv" (§3.3)
    mode: str = "stacked"            # "single" | "stacked" | "full" (§3.3–3.5); Stage-I works at R/2
    # ---- schedule. single: one phase of stage1_steps + stage2_steps updates at R; stacked/full: a phase
    # of each (0 skips it: a Stage-II run initialised from a trained Stage-I)
    stage1_steps: int = 2000
    stage2_steps: int = 2000
    # ---- sizes (paper §3.3; z_dim is not given: DCGAN's 100)
    z_dim: int = 100
    dense_g: tuple[int, ...] = (256, 512, 1024)   # dense G hidden layers
    dense_d: tuple[int, ...] = (256, 64)          # dense D hidden layers
    dense_dropout: float = 0.1                    # the paper: "dropout", no rate; chosen on val at quick
                                                  # (sweep stacked-dense-dropout, docs/stacked.md)
    # the dense D's normalisation after each hidden layer: "batch" (the paper's BN), "layer" (LayerNorm, per
    # sample) or "none". With BN as the last op before the linear head and real and fake in separate D calls,
    # the head's batch-mean logit cannot depend on the batch, and D stays at chance (docs/stacked.md, "Why the
    # dense GANs drew static"). "none" chosen on val at quick (sweep stacked-dense-norm: mean val FID
    # batch 47.6, layer 35.6, none 32.3)
    dense_d_norm: str = "none"
    # every discriminator's weights: "normal" N(0, 0.02) (DCGAN's, the paper gives none) or "kaiming" He-normal
    # (core.nn.init_discriminator). None of the three Ds has BN, and under N(0, 0.02) their logits spread by
    # 2e-5 (conv) to 1e-2 (dense) across real images at init (scripts/d_signal_at_init.py; docs/stacked.md)
    d_init: str = "normal"
    # a minibatch-std feature before every D's head (core.nn.MinibatchStd; not in the paper): lets D see a
    # batch that covers few colours or grounds (the partial mode collapse of docs/stacked.md, "The budget")
    d_mbstd: bool = False
    conv_width: int = 256                         # filters of every 3×3 conv (G and D)
    conv_layers: int = 5                          # 3×3 convs in G's body and in D
    deepconv_widths: tuple[int, ...] = (256, 128, 64)  # transposed convs before the 3-filter one; D mirrors them
    # ---- optimisation: "" / 0 take the layer type's (LAYER_OPTIM)
    optimizer: str = ""              # "adam" | "rmsprop" | "" (the layer type's)
    lr_g: float = 0.0                # every generator's rate (0: the layer type's)
    lr_d: float = 0.0                # every discriminator's rate (0: the layer type's)

    def __post_init__(self):
        if self.layer not in LAYERS:
            raise ConfigError(f"stacked: layer must be one of {list(LAYERS)}, got {self.layer!r}")
        if self.mode not in MODES:
            raise ConfigError(f"stacked: mode must be one of {list(MODES)}, got {self.mode!r}")
        if self.optimizer not in ("", "adam", "rmsprop"):
            raise ConfigError(f"stacked: optimizer must be 'adam', 'rmsprop' or '' (the layer type's), "
                              f"got {self.optimizer!r}")
        if min(self.stage1_steps, self.stage2_steps) < 0 or not self.stage1_steps + self.stage2_steps:
            raise ConfigError("stacked: stage1_steps and stage2_steps must be ≥ 0, not both 0")
        sizes = (self.z_dim, self.conv_width, self.conv_layers, *self.dense_g, *self.dense_d, *self.deepconv_widths)
        if not (self.dense_g and self.dense_d and self.deepconv_widths) or min(sizes) < 1:
            raise ConfigError("stacked: every width and z_dim must be ≥ 1, and the width tuples non-empty")
        if self.dense_d_norm not in DENSE_D_NORMS:
            raise ConfigError(f"stacked: dense_d_norm must be one of {list(DENSE_D_NORMS)}, got {self.dense_d_norm!r}")
        if self.d_init not in D_INITS:
            raise ConfigError(f"stacked: d_init must be one of {list(D_INITS)}, got {self.d_init!r}")
        if not 0 <= self.dense_dropout < 1 or self.lr_g < 0 or self.lr_d < 0:
            raise ConfigError("stacked: dense_dropout must be in [0, 1) and lr_g, lr_d ≥ 0")


# ----------------------------------------------------------------------------------------------
# networks

def _act() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


def _conv_side(side: int, k: int, stride: int, pad: int) -> int:
    return (side + 2 * pad - k) // stride + 1


class DenseGenerator(nn.Module):
    """Flattened input → [Linear → LeakyReLU → BN] per hidden width → Linear → tanh → image ``[B, C, R, R]``.
    The input is z (single / Stage-I) or the flattened Stage-I image (Stage-II)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], channels: int, resolution: int,
                 z_dim: int = 0):
        """
        Args:
            in_features: input size: z_dim, or C·(R/2)² for a Stage-II.
            hidden: hidden layer widths (paper: 256, 512, 1024).
            channels, resolution: the output image.
            z_dim: the latent size when the input is z, else 0 (a Stage-II takes no latent).
        """
        super().__init__()
        self.z_dim, self.shape = z_dim, (channels, resolution, resolution)
        layers, prev = [], in_features
        for h in hidden:
            layers += [nn.Linear(prev, h), _act(), nn.BatchNorm1d(h)]
            prev = h
        layers += [nn.Linear(prev, channels * resolution * resolution), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """z ``[B, Z]`` (z_dim > 0) or image ``[B, C, R/2, R/2]`` → image ``[B, C, R, R]`` in [−1, 1]."""
        return self.net(x.flatten(1)).view(-1, *self.shape)


class DenseDiscriminator(nn.Module):
    """Flattened image → [Linear → LeakyReLU → norm → dropout] per hidden width → Linear → logit; ``norm`` is
    BN (the paper), LayerNorm or nothing."""

    def __init__(self, channels: int, resolution: int, hidden: tuple[int, ...], dropout: float,
                 norm: str = "batch", mbstd: bool = False):
        super().__init__()
        layers, prev = [], channels * resolution * resolution
        for h in hidden:
            layers += [nn.Linear(prev, h), _act()]
            if norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            elif norm == "layer":
                layers.append(nn.LayerNorm(h))
            layers.append(nn.Dropout(dropout))
            prev = h
        if mbstd:  # [B, h] → [B, h + 1]: the batch's spread, before the head
            layers.append(MinibatchStd())
        layers.append(nn.Linear(prev + int(mbstd), 1))
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image ``[B, C, R, R]`` → logits ``[B]``."""
        return self.net(image.flatten(1)).flatten()


class ConvGenerator(nn.Module):
    """[z → FC → BN → LeakyReLU → ``[B, C, R/2, R/2]``] (with a latent) → ``layers`` conv3×3 s1 of ``width``
    filters (BN, LeakyReLU) → one transposed conv4×4 s2 to C channels → tanh ``[B, C, R, R]``. Without a
    latent (Stage-II) the Stage-I image ``[B, C, R/2, R/2]`` enters the conv body directly."""

    def __init__(self, channels: int, resolution: int, width: int, layers: int, z_dim: int = 0):
        """
        Args:
            channels, resolution: the output image (R even).
            width: filters of every 3×3 conv (paper: 256).
            layers: 3×3 convs (paper: 5).
            z_dim: the latent size (single / Stage-I), or 0: the input is an image at R/2 (Stage-II).
        """
        super().__init__()
        self.z_dim, self.seed_shape = z_dim, (channels, resolution // 2, resolution // 2)
        self.stem = nn.Sequential(nn.Linear(z_dim, channels * (resolution // 2) ** 2, bias=False),
                                  nn.BatchNorm1d(channels * (resolution // 2) ** 2), _act()) if z_dim else None
        body, prev = [], channels
        for _ in range(layers):
            body += [nn.Conv2d(prev, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), _act()]
            prev = width
        body += [nn.ConvTranspose2d(prev, channels, 4, 2, 1), nn.Tanh()]  # [B, C, R, R]
        self.body = nn.Sequential(*body)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """z ``[B, Z]`` (z_dim > 0) or image ``[B, C, R/2, R/2]`` → image ``[B, C, R, R]`` in [−1, 1]."""
        if self.stem is not None:
            x = self.stem(x).view(-1, *self.seed_shape)  # [B, C, R/2, R/2]
        return self.body(x)


class ConvDiscriminator(nn.Module):
    """``layers`` conv3×3 of ``width`` filters (the first stride 1, the rest stride 2), LeakyReLU → FC → logit."""

    def __init__(self, channels: int, resolution: int, width: int, layers: int, mbstd: bool = False):
        super().__init__()
        convs, prev, side = [], channels, resolution
        for i in range(layers):
            stride = 1 if i == 0 else 2
            convs += [nn.Conv2d(prev, width, 3, stride, 1), _act()]
            prev, side = width, _conv_side(side, 3, stride, 1)
        if mbstd:  # [B, width, s, s] → [B, width + 1, s, s]
            convs.append(MinibatchStd())
        self.net = nn.Sequential(*convs, nn.Flatten(), nn.Linear((width + int(mbstd)) * side * side, 1))
        init_weights(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image ``[B, C, R, R]`` → logits ``[B]``."""
        return self.net(image).flatten()


def _up5(cin: int, cout: int) -> nn.ConvTranspose2d:
    """Transposed conv, kernel 5, stride 2 ('same' padding: doubles the side)."""
    return nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1, bias=False)


class DeepConvGenerator(nn.Module):
    """[z → FC → BN → LeakyReLU → ``[B, w0, R/16, R/16]``] (with a latent) or [image ``[B, C, R/2, R/2]`` →
    conv5 s2 of ``widths`` reversed → ``[B, w0, R/16, R/16]``] (Stage-II), then transposed convs k5 s2 of
    ``widths`` and C filters (BN, LeakyReLU; tanh last) → ``[B, C, R, R]``."""

    def __init__(self, channels: int, resolution: int, widths: tuple[int, ...], z_dim: int = 0):
        """
        Args:
            channels, resolution: the output image; R a multiple of 2**(len(widths) + 1).
            widths: filters of the transposed convs before the last (paper: 256, 128, 64).
            z_dim: the latent size (single / Stage-I), or 0: the input is an image at R/2 (Stage-II).
        """
        super().__init__()
        n_up = len(widths) + 1
        side, w0 = resolution // 2 ** n_up, widths[0]
        self.z_dim, self.seed_shape = z_dim, (w0, side, side)
        if z_dim:
            self.stem = nn.Sequential(nn.Linear(z_dim, w0 * side * side, bias=False), nn.BatchNorm1d(w0 * side * side),
                                      _act())
        else:  # R/2 → R/2**n_up: n_up − 1 stride-2 convs, the widths mirrored (64 → 128 → 256)
            enc, prev = [], channels
            for i, w in enumerate(reversed(widths)):
                enc += [nn.Conv2d(prev, w, 5, 2, 2, bias=i == 0)] + ([nn.BatchNorm2d(w)] if i else []) + [_act()]
                prev = w
            self.stem = nn.Sequential(*enc)
        ups, prev = [], w0
        for w in widths:
            ups += [_up5(prev, w), nn.BatchNorm2d(w), _act()]
            prev = w
        ups += [nn.ConvTranspose2d(prev, channels, 5, 2, 2, output_padding=1), nn.Tanh()]  # [B, C, R, R]
        self.body = nn.Sequential(*ups)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """z ``[B, Z]`` (z_dim > 0) or image ``[B, C, R/2, R/2]`` → image ``[B, C, R, R]`` in [−1, 1]."""
        h = self.stem(x)
        if self.z_dim:
            h = h.view(-1, *self.seed_shape)  # [B, w0, R/16, R/16]
        return self.body(h)


class DeepConvDiscriminator(nn.Module):
    """conv5×5 s2 of ``widths`` (ascending: 64, 128, 256), LeakyReLU → FC → logit (the DCGAN mirror)."""

    def __init__(self, channels: int, resolution: int, widths: tuple[int, ...], mbstd: bool = False):
        super().__init__()
        convs, prev, side = [], channels, resolution
        for w in widths:
            convs += [nn.Conv2d(prev, w, 5, 2, 2), _act()]
            prev, side = w, _conv_side(side, 5, 2, 2)
        if mbstd:  # [B, prev, s, s] → [B, prev + 1, s, s]
            convs.append(MinibatchStd())
        self.net = nn.Sequential(*convs, nn.Flatten(), nn.Linear((prev + int(mbstd)) * side * side, 1))
        init_weights(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image ``[B, C, R, R]`` → logits ``[B]``."""
        return self.net(image).flatten()


def make_generator(cfg: StackedConfig, channels: int, resolution: int, latent: bool) -> nn.Module:
    """The layer type's generator of a ``resolution`` image: from z (``latent``) or, for a Stage-II, from an
    image at ``resolution / 2`` (no latent)."""
    z = cfg.z_dim if latent else 0
    if cfg.layer == "dense":
        return DenseGenerator(z or channels * (resolution // 2) ** 2, cfg.dense_g, channels, resolution, z)
    if cfg.layer == "conv":
        return ConvGenerator(channels, resolution, cfg.conv_width, cfg.conv_layers, z)
    return DeepConvGenerator(channels, resolution, cfg.deepconv_widths, z)


def make_discriminator(cfg: StackedConfig, channels: int, resolution: int) -> nn.Module:
    """The layer type's discriminator of a ``resolution`` image, initialised as ``cfg.d_init`` says."""
    if cfg.layer == "dense":
        D = DenseDiscriminator(channels, resolution, cfg.dense_d, cfg.dense_dropout, cfg.dense_d_norm, cfg.d_mbstd)
    elif cfg.layer == "conv":
        D = ConvDiscriminator(channels, resolution, cfg.conv_width, cfg.conv_layers, cfg.d_mbstd)
    else:
        D = DeepConvDiscriminator(channels, resolution, tuple(reversed(cfg.deepconv_widths)), cfg.d_mbstd)
    init_discriminator(D, cfg.d_init)
    return D


def _check_resolution(cfg: StackedConfig, resolution: int) -> None:
    stacked = cfg.mode != "single"
    if stacked and resolution % 2:
        raise ConfigError(f"stacked: Stage-I works at half the resolution, which must be even; got {resolution}")
    if cfg.layer == "conv" and resolution % (4 if stacked else 2):
        raise ConfigError(f"stacked: the conv generator's one transposed conv doubles R/2; the resolution must be "
                          f"a multiple of {4 if stacked else 2}, got {resolution}")
    if cfg.layer == "deepconv":
        step = 2 ** (len(cfg.deepconv_widths) + 1) * (2 if stacked else 1)
        if resolution % step:
            raise ConfigError(f"stacked: the deep-conv generators double the side {len(cfg.deepconv_widths) + 1} "
                              f"times{' at both stages' if stacked else ''}: the resolution must be a multiple of "
                              f"{step} (e.g. 32, 64, 128), got {resolution}")


class StackedGAN(nn.Module):
    """``netG1``, ``netD1`` (the single GAN at R, or Stage-I at R/2) and, stacked, ``netG2``, ``netD2`` at R.
    ``cfg`` is kept as a plain attribute for :func:`_generate`."""

    def __init__(self, cfg: StackedConfig, info: DataInfo):
        super().__init__()
        _check_resolution(cfg, info.resolution)
        self.cfg = cfg
        c, r = info.channels, info.resolution
        r1 = r if cfg.mode == "single" else r // 2
        self.netG1 = make_generator(cfg, c, r1, latent=True)
        self.netD1 = make_discriminator(cfg, c, r1)
        if cfg.mode != "single":
            self.netG2 = make_generator(cfg, c, r, latent=False)  # Stage-II: Stage-I's image, no latent
            self.netD2 = make_discriminator(cfg, c, r)


# ----------------------------------------------------------------------------------------------
# phases and the training step

def _optim(run, modules: tuple[str, ...], role: str) -> Optim:
    """The layer type's optimizer (or the config's override) over ``modules``; ``role`` "g" or "d"."""
    cfg: StackedConfig = run.model
    kind, lr_g, lr_d = LAYER_OPTIM[cfg.layer]
    kind = cfg.optimizer or kind
    lr = (cfg.lr_g or lr_g) if role == "g" else (cfg.lr_d or lr_d)
    if kind == "adam":
        return adam(run, modules, lr)
    return Optim(modules, lr=lr, kind="rmsprop", decay_every=run.lr_decay_every)


def _phases(run) -> list[Phase]:
    """The stacking, in one place: ``single`` (one GAN); or ``stage1`` (Stage-I's G and D) then ``stage2``
    (Stage-II's G and D; Stage-I frozen by naming it in no optimizer, or, ``full``, its G in G's optimizer)."""
    cfg: StackedConfig = run.model
    if cfg.mode == "single":
        return [Phase("single", cfg.stage1_steps + cfg.stage2_steps,
                      {"d": _optim(run, ("netD1",), "d"), "g": _optim(run, ("netG1",), "g")})]
    stage2_g = ("netG1", "netG2") if cfg.mode == "full" else ("netG2",)
    phases = [Phase("stage1", cfg.stage1_steps, {"d": _optim(run, ("netD1",), "d"), "g": _optim(run, ("netG1",), "g")}),
              Phase("stage2", cfg.stage2_steps, {"d": _optim(run, ("netD2",), "d"), "g": _optim(run, stage2_g, "g")})]
    return [p for p in phases if p.steps > 0]


def _train_step(batch: dict, ctx: StepContext) -> None:
    """One D update (BCE on a real and a fake batch, each its own D call so BN never mixes them), then one
    G update (non-saturating BCE) of the phase's stage."""
    cfg: StackedConfig = ctx.cfg.model
    real = batch["image"]                                            # [B, C, R, R]
    z = torch.randn(real.shape[0], cfg.z_dim, device=real.device)    # [B, Z]
    with ctx.autocast():
        if ctx.phase.name == "stage2":
            d_name = "netD2"
            # stacked: Stage-I is a fixed function (frozen, eval mode); full: the loss reaches it
            with contextlib.nullcontext() if cfg.mode == "full" else torch.no_grad():
                stage1 = ctx.nets["netG1"](z)                        # [B, C, R/2, R/2]
            fake = ctx.nets["netG2"](stage1)                         # [B, C, R, R]
        else:  # "single" or "stage1"
            d_name = "netD1"
            fake = ctx.nets["netG1"](z)                              # [B, C, R1, R1]
            if fake.shape[-1] != real.shape[-1]:  # Stage-I of a stacked run: the batch area-downsampled to R/2
                real = F.avg_pool2d(real, real.shape[-1] // fake.shape[-1])
        D = ctx.nets[d_name]
        s_real, s_fake = D(real).float(), D(fake.detach()).float()
        loss_d = losses.d_loss_real_fake(s_real, s_fake)
    ctx.update("d", loss_d)
    with ctx.fixed(d_name) as D_fixed:  # G's step: D is a fixed function (no weight gradients)
        with ctx.autocast():
            loss_g = losses.g_loss_nonsaturating(D_fixed(fake).float())
        ctx.update("g", loss_g, d_real=torch.sigmoid(s_real).mean(), d_fake=torch.sigmoid(s_fake).mean())


# ----------------------------------------------------------------------------------------------
# generation

def _noise_shapes(cfg: StackedConfig) -> dict[str, tuple[int, ...]]:
    """One latent in every mode: Stage-II takes none."""
    return {"z": (cfg.z_dim,)}


def _generate(model: StackedGAN, condition: dict, noise: dict) -> dict:
    """``{"image": [B, C, R, R]}`` from ``noise["z"]`` ``[B, Z]``; stacked and full also return
    ``"stage1"`` ``[B, C, R/2, R/2]``, the Stage-I image Stage-II refined."""
    s1 = model.netG1(noise["z"])
    if model.cfg.mode == "single":
        return {"image": s1}
    return {"stage1": s1, "image": model.netG2(s1)}


# ----------------------------------------------------------------------------------------------
# presets

_LAYER_FIELDS = {"dense": ("dense_g", "dense_d", "dense_dropout", "dense_d_norm"),
                 "conv": ("conv_width", "conv_layers"), "deepconv": ("deepconv_widths",)}


def _canonical(cfg: StackedConfig) -> StackedConfig:
    """The width fields of the other layer types, reset to their defaults (they build nothing)."""
    d = StackedConfig()
    unused = [f for layer, fs in _LAYER_FIELDS.items() if layer != cfg.layer for f in fs]
    return dataclasses.replace(cfg, **{f: getattr(d, f) for f in unused})


# the paper gives neither epochs nor batch size. 100 epochs per stage at DCGAN's batch 64 is a stated default, not a
# validated choice: choosing them needs CUB crops and a GPU, and neither was available when the preset was written
# (docs/stacked.md); `--set model.stage1_steps=... --set batch_size=...` override them
_PAPER_STEPS = 100 * CUB_STEPS_PER_EPOCH

SPEC = ModelSpec(
    name="stacked",
    config_cls=StackedConfig,
    presets={
        # 16 → 32 (the deep-conv stack's smallest: four doublings at each stage)
        "smoke": {"model": {"stage1_steps": 2, "stage2_steps": 2, "z_dim": 8, "dense_g": (8, 16, 32),
                            "dense_d": (16, 8), "conv_width": 8, "deepconv_widths": (16, 8, 4)},
                  "dataset": "shapes", "resolution": 32, "batch_size": 8, "dataset_size": 32, "log_every": 1,
                  "sample_every": 10 ** 9, "checkpoint_every": 10 ** 9},
        # 32 → 64 on shapes (captions ignored), widths a quarter of the paper's (conv: an eighth).
        # Steps sized by `python -m bench.size --paper stacked --preset quick` from a first guess of 1000 + 1000
        # to fit one seed of the 9-row table in about 45 min of one core (timings: docs/stacked.md)
        # d_init "kaiming": chosen on val by the sweep stacked-d-init (issue #27; mean val FID of the three single
        # GANs 21.6 against 23.2 under N(0, 0.02), recall not lower; docs/stacked.md)
        # d_mbstd: chosen on val by the sweep stacked-mbstd (issue #27; mean val recall of the three single GANs
        # 0.0575 against 0.0265, mean FID 18.7 against 21.6; docs/stacked.md)
        "quick": {"model": {"stage1_steps": 600, "stage2_steps": 600, "z_dim": 100, "dense_g": (64, 128, 256),
                            "dense_d": (64, 16), "conv_width": 32, "deepconv_widths": (64, 32, 16),
                            "d_init": "kaiming", "d_mbstd": True},
                  "dataset": "shapes", "resolution": 64, "batch_size": 32, "log_every": 25,
                  "sample_every": 500, "checkpoint_every": 500},
        # the paper: 64 → 128 on bounding-box crops of CUB, its widths (the config defaults)
        "paper": {"model": {"stage1_steps": _PAPER_STEPS, "stage2_steps": _PAPER_STEPS},
                  "dataset": "cub", "resolution": 128,
                  "batch_size": 64,  # not given by the paper: DCGAN's (see _PAPER_STEPS)
                  "log_every": 100, "sample_every": 2000, "checkpoint_every": 2000},
    },
    build=lambda cfg, info: StackedGAN(cfg, info),
    phases=_phases,
    train_step=_train_step,
    generate=_generate,
    noise_shapes=_noise_shapes,
    conditions="none",
    canonical=_canonical,
)

"""SGAN: Stacked Generative Adversarial Networks (Huang, Li, Poursaeed, Hopcroft, Belongie, CVPR 2017).

Not the semi-supervised "SGAN" (a K+1-class discriminator) nor Social GAN: this is the stack of GANs that
inverts a pretrained, frozen bottom-up classifier E (seed 001; ../shared/reference/sgan.md).

E maps an image ``h0 = x`` to ``h1 = fc3`` (256-d) and ``h2 = y`` (the label). A top-down stack of
generators inverts it: ``G1: (y, z1) → ĥ1`` and ``G0: (h1, z0) → x̂``. Each level has a representation
discriminator ``Di`` whose trunk also carries a Q head that regresses the level's noise ``zi``. Each
generator minimises ``λ_adv·L_adv + λ_cond·L_cond + λ_ent·L_ent`` (1, 1, 10):

- ``L_adv``: fool ``Di`` (binary cross-entropy, the reference code's MNIST form);
- ``L_cond``: the generated representation, fed back through the frozen E, must give back the input
  (cross-entropy on ``y`` for G1, Euclidean on fc3 for G0): :func:`conditional_loss`;
- ``L_ent``: Q's reconstruction error of the noise, a variational bound on the conditional entropy
  ``H(ĥi | hi+1)``, minimised by G and Q together, so G cannot ignore its noise: :func:`entropy_loss`.

Training is *independent* (each G conditioned on real features ``E(x)``), then *joint* (G0 fed by G1's
output; G1 updated on ``L_G1 + 0.01·L_G0``, as in the reference ``train_joint.py``).

The same model serves the paper's ablation rows by configuration: ``stack=False`` is the single
"DCGAN" with G0's architecture conditioned on ``y`` directly; ``d1=False`` is the stack trained end to
end without the intermediate discriminator; the loss weights switch terms off.

Departures from the reference code (all shape-preserving): images are in [-1, 1] (tanh, the suite's
convention) rather than sigmoid [0, 1]; noise is uniform [0, 1] as in the code, drawn in ``generate`` as
``Φ(n)`` of the pipeline's standard-normal seeds (the same distribution, addressable by seed).

Two model names live here: ``sgan-encoder`` trains E for classification (its checkpoint is then loaded
frozen into ``sgan`` with ``frozen=["netE=<run>:netE"]``), and ``sgan`` itself.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError
from core.losses import bce
from core.models.base import DataInfo, ModelSpec, Phase, StepContext, adam, uniform_from_normal
from core.nn import MinibatchStd, init_discriminator, init_weights


# ------------------------------------------------------------------------------------------ sizes

def encoder_sizes(resolution: int) -> tuple[int, int, int, int]:
    """Spatial sides after conv1 (5×5 valid), pool1, conv2 (5×5 valid), pool2: 28 → 24, 12, 8, 4 (MNIST);
    32 → 28, 14, 10, 5 (CIFAR-10). G0 mirrors them with transposed convolutions."""
    c1 = resolution - 4
    p1 = c1 // 2
    c2 = p1 - 4
    p2 = c2 // 2
    if c1 % 2 or c2 % 2 or p2 < 1:
        raise ConfigError(f"SGAN's encoder (two 5×5 valid convolutions, each followed by 2×2 pooling) needs a "
                          f"resolution R with R − 4 and (R − 4)/2 − 4 even and positive, e.g. 16, 28, 32 or 64; "
                          f"got {resolution}")
    return c1, p1, c2, p2


def uniform_noise(normal: torch.Tensor) -> torch.Tensor:
    """Standard-normal draws → uniform [0, 1] ones: the reference code's noise."""
    return uniform_from_normal(normal, 0.0, 1.0)


# ------------------------------------------------------------------------------------------ networks

class Encoder(nn.Module):
    """E: conv1(5×5 valid)-ReLU-pool1-conv2(5×5 valid)-ReLU-pool2-fc3(ReLU)-fc4 (the reference code's
    classifier; MNIST widths 32, 32, 256). ``features`` gives h1 = fc3, ``classify`` fc4's logits.

    fc3's scale is a free gauge of the classifier (fc3·g with fc4 applied to h/g classifies alike), but not of
    SGAN: it sets how much G0's input is fc3 rather than z0, and the size of G0's Euclidean conditional
    loss. With ``fc3_rms > 0``, ``features`` returns the trunk's output times ``g = fc3_rms / r``, where ``r``
    is a running estimate (updated in training mode, like batch norm's statistics) of the raw fc3's root
    mean square, and ``classify`` divides by ``g`` again. So E's classifications, and its training, are
    exactly those of the raw network, while the h1 that SGAN sees has RMS ``fc3_rms``. Both numbers are
    buffers, so a checkpoint carries them into the frozen E that SGAN loads.
    """

    def __init__(self, channels: int, resolution: int, num_classes: int, conv1: int = 32, conv2: int = 32,
                 fc3: int = 256, fc3_rms: float = 0.0, momentum: float = 0.1):
        super().__init__()
        side = encoder_sizes(resolution)[3]
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, conv1, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),   # [B, conv1, p1, p1]
            nn.Conv2d(conv1, conv2, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),      # [B, conv2, p2, p2]
            nn.Flatten(), nn.Linear(conv2 * side * side, fc3), nn.ReLU(inplace=True))  # [B, fc3]
        self.fc4 = nn.Linear(fc3, num_classes)                                         # [B, classes]
        self.feature_dim = fc3
        self.momentum = momentum
        self.register_buffer("fc3_rms", torch.tensor(float(fc3_rms)))  # target RMS; 0 = raw fc3
        self.register_buffer("raw_rms", torch.tensor(0.0))              # running RMS of the raw fc3

    def gain(self) -> torch.Tensor:
        """g: fc3_rms / the running raw RMS (1 without a target or before any training step)."""
        if self.fc3_rms <= 0 or self.raw_rms <= 0:
            return torch.ones((), device=self.raw_rms.device)
        return self.fc3_rms / self.raw_rms

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """image ``[B, C, R, R]`` in [-1, 1] → h1 ``[B, fc3]`` (non-negative, RMS ``fc3_rms`` when set)."""
        h = self.trunk(image)
        if self.training and self.fc3_rms > 0:
            with torch.no_grad():
                batch = h.pow(2).mean().sqrt()
                self.raw_rms.copy_(batch if self.raw_rms <= 0 else torch.lerp(self.raw_rms, batch, self.momentum))
        return h * self.gain()

    def classify(self, h1: torch.Tensor) -> torch.Tensor:
        """h1 ``[B, fc3]`` (as ``features`` gives it) → logits ``[B, classes]``."""
        return self.fc4(h1 / self.gain())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(image))


def _fc_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """The reference ``batch_norm`` wrapper: linear without bias, BN, then the nonlinearity."""
    return nn.Sequential(nn.Linear(cin, cout, bias=False), nn.BatchNorm1d(cout), nn.ReLU(inplace=True))


class FeatureGenerator(nn.Module):
    """G1 (MNIST): [z1 ‖ one-hot y] → FC512-BN-ReLU → FC512-BN-ReLU → FC(fc3)-ReLU = ĥ1."""

    def __init__(self, num_classes: int, z_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(_fc_bn_relu(z_dim + num_classes, hidden), _fc_bn_relu(hidden, hidden),
                                 nn.Linear(hidden, out_dim), nn.ReLU(inplace=True))
        init_weights(self)

    def forward(self, label: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """label ``[B]`` int64, z ``[B, Z1]`` → ĥ1 ``[B, fc3]``."""
        return self.net(torch.cat([z, F.one_hot(label, self.num_classes).to(z.dtype)], 1))


def _deconv(cin: int, cout: int, stride: int, bias: bool = False) -> nn.ConvTranspose2d:
    """5×5 transposed conv: stride 2 doubles the side ('same'), stride 1 adds 4 ('valid'); no bias before BN."""
    return nn.ConvTranspose2d(cin, cout, 5, stride, padding=2 if stride == 2 else 0,
                              output_padding=1 if stride == 2 else 0, bias=bias)


class ImageGenerator(nn.Module):
    """G0 (MNIST): z0 → FC128-BN-ReLU, ‖ the condition (fc3, or one-hot y for the single GAN) →
    FC(c0·s·s)-BN-ReLU → deconv5 s2 c0 → deconv5 valid c1 → deconv5 s2 c1 → deconv5 valid C → tanh.
    At 28 px: s = 4 and sides 8, 12, 24, 28 with (c0, c1) = (128, 64), as in the reference code."""

    def __init__(self, cond_dim: int, z_dim: int, z_fc: int, c0: int, c1: int, resolution: int, channels: int):
        super().__init__()
        _, p1, c2, side = encoder_sizes(resolution)
        self.c0, self.side = c0, side
        self.noise = _fc_bn_relu(z_dim, z_fc)
        self.fc = _fc_bn_relu(cond_dim + z_fc, c0 * side * side)
        bn_relu = lambda c: (nn.BatchNorm2d(c), nn.ReLU(inplace=True))  # noqa: E731
        self.up = nn.Sequential(
            _deconv(c0, c0, 2), *bn_relu(c0),      # [B, c0, 2s, 2s]      (c2 = 2·side)
            _deconv(c0, c1, 1), *bn_relu(c1),      # [B, c1, p1, p1]      (p1 = c2 + 4)
            _deconv(c1, c1, 2), *bn_relu(c1),      # [B, c1, 2·p1, 2·p1]  (= R − 4)
            _deconv(c1, channels, 1, bias=True), nn.Tanh())   # [B, C, R, R] (no BN: with bias)
        init_weights(self)

    def forward(self, cond: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """cond ``[B, K]``, z ``[B, Z0]`` → image ``[B, C, R, R]`` in [-1, 1]."""
        h = self.fc(torch.cat([cond, self.noise(z)], 1)).view(-1, self.c0, self.side, self.side)
        return self.up(h)


class _QDiscriminator(nn.Module):
    """A discriminator of one level: a trunk (its input → ``[B, hidden]``) shared by two heads, the adversarial
    logit and Q (FC z, sigmoid: the level's noise read back). Every layer N(0, 0.02), then the trunk by
    :func:`core.nn.init_discriminator`; built in that order (trunk, adv, q), so the same seed draws the same
    weights."""

    def __init__(self, trunk: nn.Sequential, hidden: int, z_dim: int, init: str):
        super().__init__()
        self.trunk = trunk
        self.adv = nn.Linear(hidden, 1)
        self.q = nn.Sequential(nn.Linear(hidden, z_dim), nn.Sigmoid())
        init_weights(self)
        init_discriminator(self.trunk, init, head=self.adv)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (the level's input) → (logits ``[B]``, ẑ ``[B, Z]`` in [0, 1])."""
        t = self.trunk(x)
        return self.adv(t).flatten(), self.q(t)


class FeatureDiscriminator(_QDiscriminator):
    """D1 (MNIST): fc3 ``[B, fc3]`` → FC256-lReLU ×2 (the shared trunk) → adv logit and Q1 (FC z1, sigmoid)."""

    def __init__(self, in_dim: int, hidden: int, z_dim: int, init: str = "normal"):
        super().__init__(nn.Sequential(nn.Linear(in_dim, hidden), nn.LeakyReLU(0.2, inplace=True),
                                       nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, inplace=True)),
                         hidden, z_dim, init)


class ImageDiscriminator(_QDiscriminator):
    """D0 (MNIST): image ``[B, C, R, R]`` → conv5 s2 32 → 64 → 128 (lReLU, no BN) → FC256-lReLU (the shared
    trunk) → adv logit and Q0 (FC z0, sigmoid)."""

    def __init__(self, channels: int, resolution: int, widths: tuple[int, int, int], hidden: int, z_dim: int,
                 init: str = "normal", mbstd: bool = False):
        layers, cin, side = [], channels, resolution
        for w in widths:
            layers += [nn.Conv2d(cin, w, 5, 2, 2), nn.LeakyReLU(0.2, inplace=True)]
            cin, side = w, (side + 1) // 2
        if mbstd:  # [B, cin, s, s] → [B, cin + 1, s, s]: the batch's spread (core.nn.MinibatchStd; not the reference's)
            layers.append(MinibatchStd())
        super().__init__(nn.Sequential(*layers, nn.Flatten(), nn.Linear((cin + int(mbstd)) * side * side, hidden),
                                       nn.LeakyReLU(0.2, inplace=True)),  # [B, hidden]
                         hidden, z_dim, init)


# ------------------------------------------------------------------------------------------ configs

@dataclass(frozen=True)
class SganEncoderConfig:
    steps: int = 1500          # classification steps (Adam)
    lr: float = 1e-3
    conv1: int = 32            # reference MNIST encoder: 32, 32, 256 (CIFAR-10: 64, 128, 256)
    conv2: int = 32
    fc3: int = 256
    # fc3's RMS, held by E's running normalisation (Encoder): 0.90 is the RMS of the reference code's shipped
    # MNIST encoder (mnist/pretrained/encoder.npz, on [0, 1] input) over mnist5k's 4,000 non-test digits; an
    # encoder trained here by Adam drifts to about 3.5 (measured), which weights G0's input towards fc3 over
    # z0 by that factor and its Euclidean conditional loss by its square (docs/sgan.md). 0 = raw fc3
    fc3_rms: float = 0.9


@dataclass(frozen=True)
class SganConfig:
    independent_steps: int = 2000  # each G on real E features (one D step, then one G step, both levels)
    joint_steps: int = 1000        # G0 fed by G1; 0 = SGAN-no-joint
    # both phases' steps × this (rounded): a dataset's budget at a preset that keeps every row's share of it (the
    # table's rows set the steps themselves, so a dataset preset scales them rather than replacing them)
    steps_scale: float = 1.0
    stack: bool = True             # False: one GAN with G0's architecture conditioned on y (the "DCGAN" rows)
    d1: bool = True                # False: the stack trained end to end with no intermediate discriminator
    adv_weight: float = 1.0        # λ1 (paper and code: 1)
    cond_weight: float = 1.0       # λ2 (1)
    ent_weight: float = 10.0       # λ3 (10)
    joint_g1_scale: float = 0.01   # G0's loss reaches G1 scaled by this in joint training (train_joint.py)
    lr: float = 1e-4               # the generators' Adam rate, β1 0.5 (reference: 1e-4 for G and D)
    d_lr: float = 1e-4             # the discriminators' (with their Q heads) Adam rate (reference: 1e-4)
    q_lr_scale: float = 1.0        # the Q heads (the last layer of Q; the trunk is D's) learn at d_lr × this
    d1_lr_scale: float = 1.0       # D1 (its trunk and adversarial head; not its Q head) learns at d_lr × this
    z1_dim: int = 50
    z0_dim: int = 50
    # widths (MNIST reference code)
    conv1: int = 32                # E (only to rebuild the frozen encoder; must match the encoder run)
    conv2: int = 32
    fc3: int = 256
    g1_hidden: int = 512
    g0_z_fc: int = 128
    g0_c0: int = 128
    g0_c1: int = 64
    d1_hidden: int = 256
    d0_widths: tuple[int, int, int] = (32, 64, 128)
    d0_hidden: int = 256
    # the discriminator trunks' initialisation (core.nn.init_discriminator): "normal" = N(0, 0.02), the
    # reference code's
    d_init: str = "normal"
    # a minibatch-std channel in D0's trunk before its FC layer (core.nn.MinibatchStd; not the reference's): D0
    # sees a batch that spreads too little (the within-class collapse on shapes, docs/sgan.md)
    d0_mbstd: bool = False


def _check(cfg: SganConfig) -> None:
    if not cfg.stack and not cfg.d1:
        raise ConfigError("d1=False is a stacked model without D1; the single GAN (stack=False) has no D1 anyway")
    if not cfg.d1 and cfg.independent_steps:
        raise ConfigError("without D1 there is no independent training of G1: set independent_steps=0 and give "
                          "the whole budget to joint_steps")
    if not cfg.stack and cfg.joint_steps:
        raise ConfigError("the single GAN has no joint phase: give its budget to independent_steps")
    if not cfg.steps_scale > 0:
        raise ConfigError(f"steps_scale must be > 0, got {cfg.steps_scale}")


def _canonical(cfg: SganConfig) -> SganConfig:
    """Fields a configuration does not use, reset (so equal runs compare equal)."""
    d = SganConfig()
    if not cfg.stack:
        cfg = replace(cfg, z1_dim=d.z1_dim, g1_hidden=d.g1_hidden, d1_hidden=d.d1_hidden, joint_g1_scale=d.joint_g1_scale,
                      d1=d.d1)
    if cfg.stack and cfg.joint_steps == 0:
        cfg = replace(cfg, joint_g1_scale=d.joint_g1_scale)
    return cfg


# ------------------------------------------------------------------------------------------ the model

class SGAN(nn.Module):
    """Sub-networks: netE (frozen, from an ``sgan-encoder`` run), netG0, netD0 and, when stacked, netG1
    and, with D1, netD1."""

    def __init__(self, cfg: SganConfig, info: DataInfo):
        super().__init__()
        _check(cfg)
        if info.num_classes < 2:
            raise ConfigError("SGAN is conditioned on class labels: the dataset must have them (mnist5k, shapes)")
        self.cfg = cfg
        self.num_classes = info.num_classes
        self.netE = Encoder(info.channels, info.resolution, info.num_classes, cfg.conv1, cfg.conv2, cfg.fc3)
        cond_dim = cfg.fc3 if cfg.stack else info.num_classes
        self.netG0 = ImageGenerator(cond_dim, cfg.z0_dim, cfg.g0_z_fc, cfg.g0_c0, cfg.g0_c1, info.resolution,
                                    info.channels)
        self.netD0 = ImageDiscriminator(info.channels, info.resolution, tuple(cfg.d0_widths), cfg.d0_hidden,
                                        cfg.z0_dim, cfg.d_init, cfg.d0_mbstd)
        if cfg.stack:
            self.netG1 = FeatureGenerator(info.num_classes, cfg.z1_dim, cfg.g1_hidden, cfg.fc3)
            if cfg.d1:
                self.netD1 = FeatureDiscriminator(cfg.fc3, cfg.d1_hidden, cfg.z1_dim, cfg.d_init)


class EncoderModel(nn.Module):
    def __init__(self, cfg: SganEncoderConfig, info: DataInfo):
        super().__init__()
        if info.num_classes < 2:
            raise ConfigError("the SGAN encoder is a classifier: the dataset must have class labels")
        self.netE = Encoder(info.channels, info.resolution, info.num_classes, cfg.conv1, cfg.conv2, cfg.fc3,
                            cfg.fc3_rms)


# ------------------------------------------------------------------------------------------ losses

def entropy_loss(q: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """L_ent: the mean squared error of Q's reconstruction ``q`` ``[B, Z]`` of the noise ``z`` ``[B, Z]``
    (the negative log-likelihood of z under a fixed-variance Gaussian posterior, up to constants): zero
    exactly when Q recovers z. Minimised by both G and Q (SGAN §3.4)."""
    return (q - z).pow(2).mean()


def conditional_loss(E: Encoder, generated: torch.Tensor, target: torch.Tensor, level: int) -> torch.Tensor:
    """L_cond through the frozen encoder: level 1, ĥ1 ``[B, fc3]`` against labels ``[B]`` (cross-entropy
    of fc4); level 0, x̂ ``[B, C, R, R]`` against fc3 ``[B, fc3]`` (Euclidean: the mean squared error)."""
    if level == 1:
        return F.cross_entropy(E.classify(generated), target)
    return (E.features(generated) - target).pow(2).mean()


def discriminator_loss(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, z: torch.Tensor,
                       ent_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """½(BCE(D(real), 1) + BCE(D(fake), 0)) + λ_ent·L_ent(Q(fake), z): the reference's total D loss (Q
    shares D's trunk and is trained with it). Returns (loss, D's mean probability on real)."""
    s_r, _ = D(real)
    s_f, q = D(fake)
    loss = 0.5 * (bce(s_r, True) + bce(s_f, False))
    if ent_weight:
        loss = loss + ent_weight * entropy_loss(q, z)
    return loss, torch.sigmoid(s_r).mean()


def generator_loss(D: nn.Module, fake: torch.Tensor, z: torch.Tensor, cond: torch.Tensor | None,
                   cfg: SganConfig) -> tuple[torch.Tensor, dict]:
    """L_G = λ_adv·BCE(D(fake), 1) + λ_cond·cond + λ_ent·L_ent(Q(fake), z); a term with weight 0 is left out
    (so an ablation row switches off exactly its term). Returns (loss, the unweighted terms)."""
    s, q = D(fake)
    terms = {"adv": bce(s, True), "ent": entropy_loss(q, z)}
    loss = cfg.adv_weight * terms["adv"] if cfg.adv_weight else torch.zeros((), device=fake.device)
    if cfg.ent_weight:
        loss = loss + cfg.ent_weight * terms["ent"]
    if cond is not None:
        terms["cond"] = cond
        if cfg.cond_weight:
            loss = loss + cfg.cond_weight * cond
    return loss, terms


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by ``scale``."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged, with the gradient that flows back through it multiplied by ``scale``."""
    return _ScaleGrad.apply(x, scale)


def sample_noise(cfg: SganConfig, batch: int, device) -> dict[str, torch.Tensor]:
    """Uniform [0, 1] noise for one batch: {"z1": [B, Z1] (stacked only), "z0": [B, Z0]}."""
    z = {"z0": torch.rand(batch, cfg.z0_dim, device=device)}
    if cfg.stack:
        z["z1"] = torch.rand(batch, cfg.z1_dim, device=device)
    return z


def forward_generators(nets: dict, cfg: SganConfig, image: torch.Tensor, label: torch.Tensor, z: dict,
                       joint: bool, num_classes: int) -> dict:
    """The generators' outputs for one batch: ``fake`` ``[B, C, R, R]``, ``h1_real`` = E(x) ``[B, fc3]``
    and, stacked, ``h1_fake`` = G1(y, z1) and ``h1_in``, what G0 was fed and must give back through E.

    Independent: G0 is fed real fc3. Joint: G0 is fed ĥ1 through :func:`scale_grad`, so G0's loss reaches
    G1 scaled by ``joint_g1_scale`` (by 1 for the stack without D1, which trains end to end) while G0's own
    gradient is unchanged. The single GAN (``stack=False``) feeds G0 one-hot y.
    """
    with torch.no_grad():
        h1_real = nets["netE"].features(image)  # [B, fc3]
    out = {"h1_real": h1_real}
    if cfg.stack:
        out["h1_fake"] = nets["netG1"](label, z["z1"])  # [B, fc3]
        out["h1_in"] = scale_grad(out["h1_fake"], cfg.joint_g1_scale if cfg.d1 else 1.0) if joint else h1_real
        out["fake"] = nets["netG0"](out["h1_in"], z["z0"])
    else:
        out["fake"] = nets["netG0"](F.one_hot(label, num_classes).to(image.dtype), z["z0"])
    return out


def discriminator_losses(nets: dict, cfg: SganConfig, image: torch.Tensor, gen: dict, z: dict) -> dict:
    """Both discriminators' losses (with their Q heads) on detached fakes: ``{"d": total, "d0_real", ...}``."""
    loss, d0_real = discriminator_loss(nets["netD0"], image, gen["fake"].detach(), z["z0"], cfg.ent_weight)
    out = {"d0_real": d0_real}
    if cfg.stack and cfg.d1:
        d1, out["d1_real"] = discriminator_loss(nets["netD1"], gen["h1_real"], gen["h1_fake"].detach(), z["z1"],
                                                cfg.ent_weight)
        loss = loss + d1
    out["d"] = loss
    return out


def generator_losses(nets: dict, cfg: SganConfig, label: torch.Tensor, gen: dict, z: dict) -> dict:
    """``{"g": L_G0 + L_G1, "g0": L_G0, "g1": L_G1, and the unweighted terms}``; D is called as a fixed
    function. L_G0's conditional loss compares E(x̂) with what G0 was fed; the single GAN's is E's
    cross-entropy on y. Without D1 (and so without Q1), G1 learns from its conditional loss and, end to
    end, from G0's."""
    E = nets["netE"]
    if cfg.stack:
        cond0 = conditional_loss(E, gen["fake"], gen["h1_in"], 0)
    else:
        cond0 = F.cross_entropy(E(gen["fake"]), label)
    g0, t0 = generator_loss(nets["netD0"], gen["fake"], z["z0"], cond0, cfg)
    out = {f"{k}0": v for k, v in t0.items()}
    out["g0"] = out["g"] = g0
    if cfg.stack:
        cond1 = conditional_loss(E, gen["h1_fake"], label, 1)
        if cfg.d1:
            g1, t1 = generator_loss(nets["netD1"], gen["h1_fake"], z["z1"], cond1, cfg)
            out.update({f"{k}1": v for k, v in t1.items()})
        else:
            g1 = cfg.cond_weight * cond1
            out["cond1"] = cond1
        out["g1"] = g1
        out["g"] = g0 + g1
    return out


def _phases(run) -> list[Phase]:
    """independent, then joint; one D optimizer over every discriminator (with its Q head) and one G
    optimizer over every generator (Adam is per parameter, so this equals one optimizer per network)."""
    cfg: SganConfig = run.model
    d = adam(run, discriminators(cfg), cfg.d_lr)
    scales = [(f"{n}.q.", cfg.q_lr_scale) for n in discriminators(cfg)] if cfg.q_lr_scale != 1.0 else []
    if cfg.d1_lr_scale != 1.0 and "netD1" in discriminators(cfg):
        scales.append(("netD1.", cfg.d1_lr_scale))  # after the Q prefixes: the first matching prefix wins
    if scales:
        d = replace(d, lr_scale=tuple(scales))
    opt = {"d": d, "g": adam(run, generators(cfg), cfg.lr)}
    phases = []
    for name, steps in (("independent", cfg.independent_steps), ("joint", cfg.joint_steps)):
        if steps:
            phases.append(Phase(name, max(1, round(steps * cfg.steps_scale)), opt))
    if not phases:
        raise ConfigError("SGAN needs independent_steps or joint_steps > 0")
    return phases


def discriminators(cfg: SganConfig) -> tuple[str, ...]:
    return ("netD0",) + (("netD1",) if cfg.stack and cfg.d1 else ())


def generators(cfg: SganConfig) -> tuple[str, ...]:
    return ("netG0",) + (("netG1",) if cfg.stack else ())


def _train_step(batch: dict, ctx: StepContext) -> None:
    """One D step (both levels), then one G step (both levels) against the updated D, as the reference MNIST
    scripts alternate them. The G step reuses the D step's fakes (the reference draws fresh noise for each
    step: the same expectation, one generator forward fewer)."""
    cfg: SganConfig = ctx.cfg.model
    image, label = batch["image"], batch["label"]
    z = sample_noise(cfg, image.shape[0], image.device)
    joint = ctx.phase.name == "joint" or not cfg.d1
    num_classes = ctx.modules["netE"].fc4.out_features
    with ctx.autocast():
        gen = forward_generators(ctx.nets, cfg, image, label, z, joint, num_classes)
        d = discriminator_losses(ctx.nets, cfg, image, gen, z)
    ctx.update("d", d["d"])
    with contextlib.ExitStack() as stack:
        for name in discriminators(cfg):  # fixed functions in G's step
            stack.enter_context(ctx.fixed(name))
        with ctx.autocast():
            g = generator_losses(ctx.nets, cfg, label, gen, z)
        logged = {k: v for k, v in {**d, **g}.items() if k not in ("d", "g")}
        ctx.update("g", g["g"], **logged)


def _generate(model: SGAN, condition: dict, noise: dict) -> dict:
    """Images ``[B, C, R, R]`` from labels ``[B]``; with the stack, also the generated fc3 ``[B, fc3]``.
    The noise (standard normal, by seed) is mapped to the uniform [0, 1] the model was trained on."""
    label = condition["label"]
    z0 = uniform_noise(noise["z0"])
    if not model.cfg.stack:
        onehot = F.one_hot(label, model.num_classes).to(z0.dtype)
        return {"image": model.netG0(onehot, z0)}
    h1 = model.netG1(label, uniform_noise(noise["z1"]))
    return {"image": model.netG0(h1, z0), "fc3": h1}


# the reference MNIST script: batch 100, 200 epochs of 60,000 images (train + valid) → 600 steps per epoch
_PAPER_STEPS = 200 * 600

SPEC = ModelSpec(
    name="sgan",
    config_cls=SganConfig,
    presets={
        "smoke": {"model": {"independent_steps": 3, "joint_steps": 2, "z1_dim": 8, "z0_dim": 8, "fc3": 16,
                            "conv1": 4, "conv2": 4, "g1_hidden": 16, "g0_z_fc": 8, "g0_c0": 8, "g0_c1": 4,
                            "d1_hidden": 16, "d0_widths": (4, 8, 8), "d0_hidden": 16},
                  "dataset": "mnist5k", "resolution": 16, "batch_size": 8, "dataset_size": 64,
                  "log_every": 1, "sample_every": 5, "checkpoint_every": 5},
        # sized by measured step times to fit one seed of the 8-row table in about 30 minutes of one core
        # (timings: docs/sgan.md): the reference networks at half width (G0 64/32 channels, D0 16/32/64),
        # batch 64, 1,000 independent + 400 joint steps (≈ 26 epochs of mnist5k's 3,500 training digits).
        # Rates and D's initialisation (issue #26, docs/sgan.md "Why the entropy loss did not act"): at the
        # reference N(0, 0.02) initialisation D0's trunk, which Q0 shares, carries almost no z0, and with D at
        # 1e-3 the adversarial loss takes it over, so Q0 never reads z0 (ent0 0.97 × chance on training
        # batches). He-initialised D trunks, D at the reference 1e-4 and Q's heads at 1e-2 (×100) together bring
        # ent0 to 0.40 × chance. At that setting G1 learned nothing of E's features (D1 too slow at 1e-4: the
        # SGAN's recall on val 0.019), so D1 learns at 1e-3 (×10), chosen on val by the sweep sgan-mnist5k-d1
        # (recall 0.37, every gate passed; docs/sgan.md)
        "quick": {"model": {"independent_steps": 1000, "joint_steps": 400, "g0_c0": 64, "g0_c1": 32,
                            "d0_widths": (16, 32, 64), "d_lr": 1e-4, "q_lr_scale": 100.0, "d_init": "kaiming",
                            "d1_lr_scale": 10.0},
                  "dataset": "mnist5k", "resolution": 28, "batch_size": 64, "log_every": 25,
                  "sample_every": 500, "checkpoint_every": 500},
        # the reference MNIST networks layer for layer, batch 100, Adam 1e-4: independent for 190 epochs and
        # joint from there (train_joint.py starts from the independent epoch-190 checkpoints)
        "paper": {"model": {"independent_steps": 190 * 600, "joint_steps": _PAPER_STEPS},
                  "dataset": "mnist", "resolution": 28, "batch_size": 100, "log_every": 100,
                  "sample_every": 5000, "checkpoint_every": 5000},
    },
    # shapes (RGB, the shape is the class) at quick: the mnist5k rates above give colour blobs whose shape the
    # evaluation classifier reads back for 31% of samples. Chosen on the shapes *validation* split by the sweep in
    # bench/sweeps/sgan_shapes_rates.py (then a script; four settings × two seeds, rule written before running:
    # the highest mean val cond_acc, ties within 0.03 broken by val FID): G 1e-4/D 1e-3/Q ×10 0.31 (FID 10.3); the reference's
    # 1e-4/1e-4/×1 0.61 (23.5); 1e-4/1e-4/×10 0.68 (20.7); 2e-4/2e-4/×10 0.68 (19.3), taken (docs/sgan.md)
    # Issue #26 on shapes (docs/sgan.md): He-initialised trunks and D1 at ×10 (sweep sgan-shapes-d1), a minibatch-std
    # channel in D0 and twice quick's updates (every row's, by steps_scale), chosen on val by the sweep
    # sgan-shapes-mbstd (every gate passed, recall 0.0505); at batch 32, which keeps a seed of the shapes table at
    # 26.6 min of training on one core where batch 64 needs 51.3 (bench.size), by the sweep sgan-shapes-b32 (every
    # gate passed: FID 9.0, diversity 0.45, recall 0.077, ent0/ent1 0.054/0.056)
    dataset_presets={"quick": {"shapes": {"model": {"lr": 2e-4, "d_lr": 2e-4, "q_lr_scale": 10.0,
                                                     "d_init": "kaiming", "d1_lr_scale": 10.0, "d0_mbstd": True,
                                                     "steps_scale": 2.0},
                                           "batch_size": 32}}},
    build=lambda cfg, info: SGAN(cfg, info),
    phases=_phases,
    train_step=_train_step,
    generate=_generate,
    noise_shapes=lambda cfg: {"z1": (cfg.z1_dim,), "z0": (cfg.z0_dim,)} if cfg.stack else {"z0": (cfg.z0_dim,)},
    conditions=("label",),
    pretrained=lambda cfg: ("netE",),
    canonical=_canonical,
)


# ------------------------------------------------------------------------------------------ the encoder

def _encoder_step(batch: dict, ctx: StepContext) -> None:
    logits = ctx.nets["netE"](batch["image"])
    loss = F.cross_entropy(logits, batch["label"])
    ctx.update("e", loss, acc=(logits.argmax(1) == batch["label"]).float().mean())


ENCODER_SPEC = ModelSpec(
    name="sgan-encoder",
    config_cls=SganEncoderConfig,
    presets={
        "smoke": {"model": {"steps": 4, "conv1": 4, "conv2": 4, "fc3": 16}, "dataset": "mnist5k",
                  "resolution": 16, "batch_size": 8, "dataset_size": 64, "log_every": 1,
                  "sample_every": 10 ** 9, "checkpoint_every": 4},
        "quick": {"model": {"steps": 500}, "dataset": "mnist5k", "resolution": 28, "batch_size": 100,
                  "log_every": 25, "sample_every": 10 ** 9, "checkpoint_every": 500},
        "paper": {"model": {"steps": 20 * 600}, "dataset": "mnist", "resolution": 28, "batch_size": 100,
                  "log_every": 100, "sample_every": 10 ** 9, "checkpoint_every": 2000},
    },
    build=lambda cfg, info: EncoderModel(cfg, info),
    phases=lambda run: [Phase("classify", run.model.steps, {"e": adam(run, ("netE",), run.model.lr)})],
    train_step=_encoder_step,
    generate=None,  # a classifier: no images, no sample grids; the Pipeline refuses it
    noise_shapes=lambda cfg: {},
    conditions=("label",),
)

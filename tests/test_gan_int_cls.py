"""GAN-INT-CLS: the text embedding's scale reaches G and D the same way in training and generation."""
import contextlib

import torch

from core.models import DataInfo, StepContext
from core.models.gan_int_cls import SPEC, _phases, _train_step
from core.resolve import build_config

INFO = DataInfo(channels=3, resolution=16, embed_dim=12, num_classes=4)


def _model(scale):
    cfg = build_config("gan-int-cls", "smoke", {"model.embedding_scale": scale})
    torch.manual_seed(0)
    return cfg, SPEC.build(cfg.model, INFO).eval()


def test_embedding_scale_multiplies_the_embedding_before_the_generator():
    cfg, scaled = _model(4.0)
    _, plain = _model(1.0)
    e, z = torch.randn(3, 12), torch.randn(3, cfg.model.z_dim)
    out = SPEC.generate(scaled, {"text": e}, {"z": z})["image"]  # freshly initialised: values ~1e-4

    def rel(other):
        return ((out - other).abs().max() / out.abs().max()).item()

    assert rel(SPEC.generate(plain, {"text": 4.0 * e}, {"z": z})["image"]) < 1e-4
    assert rel(SPEC.generate(plain, {"text": e}, {"z": z})["image"]) > 1e-2


def test_embedding_scale_reaches_the_discriminator_in_training():
    """Scale 4 on an embedding e trains exactly like scale 1 on 4e (same seeds)."""
    def d_loss(scale, mult):
        cfg, model = _model(scale)
        model.train()
        phase = _phases(cfg)[0]
        opts = {r: torch.optim.SGD([p for n in o.modules for p in getattr(model, n).parameters()], lr=0.0)
                for r, o in phase.optimize.items()}
        g = torch.Generator().manual_seed(1)
        batch = {"image": torch.rand(4, 3, 16, 16, generator=g) * 2 - 1,
                 "text": mult * torch.randn(4, 12, generator=g),
                 "wrong_text": mult * torch.randn(4, 12, generator=g)}
        ctx = StepContext(dict(model.named_children()), opts, phase, 0, cfg, contextlib.nullcontext)
        torch.manual_seed(2)
        _train_step(batch, ctx)
        return ctx.losses["loss_d"]

    assert torch.isclose(torch.as_tensor(d_loss(4.0, 1.0)), torch.as_tensor(d_loss(1.0, 4.0)), atol=1e-5)
    assert not torch.isclose(torch.as_tensor(d_loss(4.0, 1.0)), torch.as_tensor(d_loss(1.0, 1.0)), atol=1e-4)

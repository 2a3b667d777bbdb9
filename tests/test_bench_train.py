"""pytest-benchmark benchmarks: one training step and sampling (run once, untimed, by default;
`make bench` times them)."""
import pytest
import torch

from core.models import DataInfo, get_model_spec
from core.models.base import StepContext
from core.pipeline import seeded_noise
from core.resolve import build_config
from core.train import _make_optimizers, _set_phase, build_model


def _setup(preset="quick"):
    cfg = build_config("gan-int-cls", preset)
    spec = get_model_spec("gan-int-cls")
    info = DataInfo(channels=3, resolution=cfg.resolution, embed_dim=384, num_classes=10)
    model = build_model(cfg, info)
    phase = spec.phases(cfg)[0]
    _set_phase(model, phase)
    opts = _make_optimizers(model, phase)
    g = torch.Generator().manual_seed(0)
    B, R = cfg.batch_size, cfg.resolution
    batch = {"image": torch.rand(B, 3, R, R, generator=g) * 2 - 1,
             "text": torch.randn(B, 384, generator=g), "wrong_text": torch.randn(B, 384, generator=g)}
    return cfg, spec, model, phase, opts, batch


@pytest.mark.benchmark(group="train")
def test_bench_gan_int_cls_quick_train_step(benchmark):
    cfg, spec, model, phase, opts, batch = _setup()
    nets = dict(model.named_children())
    import contextlib

    def step():
        spec.train_step(batch, StepContext(nets, opts, phase, 0, cfg, contextlib.nullcontext))

    benchmark.extra_info.update(batch=cfg.batch_size, resolution=cfg.resolution)
    benchmark(step)


@pytest.mark.benchmark(group="sample")
def test_bench_gan_int_cls_sample_64(benchmark):
    cfg, spec, model, *_ = _setup()
    model.eval()
    emb = torch.randn(64, 384)
    noise = seeded_noise(spec.noise_shapes(cfg.model), range(64))

    @torch.no_grad()
    def sample():
        return spec.generate(model, {"text": emb}, noise)["image"]

    out = benchmark(sample)
    assert out.shape == (64, 3, cfg.resolution, cfg.resolution)

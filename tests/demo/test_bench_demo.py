"""Benchmarks of the demo as shipped (run once, untimed, by default; `make bench` times them):
start-up (models loaded once) and one click generating 8 Stage-I + Stage-II images (through the
batcher, as a visitor's click goes, and into the HTML galleries). Latency under a crowd of visitors:
``test_bench_latency.py``."""
import pytest

from demo.app import build_app
from demo.stackgan_tab import StackGANDemo


@pytest.mark.benchmark(group="demo")
def test_bench_demo_startup(benchmark):
    """The app as shipped starts with every tab, every model loaded from ``results/checkpoints/`` (no tab shows
    its missing-model notice), and each model's first view already holding images."""
    app = benchmark.pedantic(build_app, rounds=1, iterations=1)
    config = app.get_config_file()
    tabs = [c["props"]["label"] for c in config["components"] if c["type"] == "tabitem"]
    assert tabs == ["StackGAN", "SGAN", "S²-GAN", "Stacked vs single", "Results", "About"]
    models = app.demo_context.models
    assert sorted(models) == ["s2gan", "sgan", "stacked", "stackgan"]
    assert {name: m.error for name, m in models.items()} == dict.fromkeys(models)  # every model loaded
    values = {c["props"]["elem_id"]: c["props"].get("value") for c in config["components"] if c["props"].get("elem_id")}
    assert not {"sgan-notice", "s2gan-notice", "stacked-notice"} & set(values)
    # the first tab's images are in the page; the others' are made at start-up and sent when their tab first
    # opens (demo.serving.defer_images; tests/demo/test_first_page.py checks that path in detail)
    ids = {c["id"]: c["props"].get("elem_id") for c in config["components"]}
    sent = {}
    for dep in app.fns.values():
        if dep.targets and dep.targets[0][1] == "select" and len(dep.outputs) > 1:
            sent.update(zip([ids[o._id] for o in dep.outputs[1:]], dep.fn(False)[1:]))
    first = {k: str(sent.get(k, values[k])).count("<figure")
             for k in ("stage2-gallery", "sgan-grid", "s2gan-grid", "stacked-final")}
    assert first == {"stage2-gallery": 4, "sgan-grid": 8, "s2gan-grid": 16, "stacked-final": 8}, first


@pytest.mark.benchmark(group="demo")
def test_bench_demo_generate_8(benchmark):
    model = StackGANDemo()
    assert model.error is None, model.error
    g1, g2, _ = benchmark(model.generate, "a large red star with diagonal stripes", 8, 0, True)
    assert g1.count("<figure") == g2.count("<figure") == 8

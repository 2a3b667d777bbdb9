"""Benchmarks of the demo as shipped (run once, untimed, by default; `make bench` times them):
start-up (models loaded once) and one click generating 8 Stage-I + Stage-II images (through the
batcher, as a visitor's click goes, and into the HTML galleries). Latency under a crowd of visitors:
``test_bench_latency.py``."""
import pytest

from demo.app import build_app
from demo.stackgan_tab import StackGANDemo


@pytest.mark.benchmark(group="demo")
def test_bench_demo_startup(benchmark):
    app = benchmark.pedantic(build_app, rounds=1, iterations=1)
    assert app is not None


@pytest.mark.benchmark(group="demo")
def test_bench_demo_generate_8(benchmark):
    model = StackGANDemo()
    assert model.error is None, model.error
    g1, g2, _ = benchmark(model.generate, "a large red star with diagonal stripes", 8, 0, True)
    assert g1.count("<figure") == g2.count("<figure") == 8

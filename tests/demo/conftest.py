"""Fixtures for the demo tests: a smoke StackGAN checkpoint, a results folder, a running app."""
import os
import socket

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client  # noqa: E402

from core.config import build_config  # noqa: E402
from core.train import train  # noqa: E402
from demo.app import build_app, launch  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port():
    """A function returning a free localhost port."""
    return _free_port


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    cfg = build_config("stackgan", "smoke", {"model.stage1_steps": 2, "model.stage2_steps": 2})
    return train(cfg, tmp_path_factory.mktemp("demo") / "stackgan", progress=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results/ folder with one paper's aggregate and verdicts, as bench.report writes them."""
    import pandas as pd

    from bench.spec import Claim
    from bench.stats import aggregate, judge

    runs = pd.DataFrame([{"row": r, "seed": s, "metric": "is_mean", "value": v + 0.1 * s}
                         for r, v in (("a", 2.0), ("b", 3.0)) for s in range(3)])
    out = tmp_path_factory.mktemp("results") / "toypaper"
    out.mkdir()
    aggregate(runs, {"b": {"is_mean": (3.7, 0.04)}}).to_csv(out / "ablation.csv", index=False)
    pd.DataFrame([judge(Claim("c", "b beats a", "b", ("a",)), runs)]).to_csv(out / "verdicts.csv", index=False)
    return out.parent


@pytest.fixture(scope="module")
def client(checkpoint, results, tmp_path_factory):
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    app = build_app(checkpoint=checkpoint, results=results)
    _, url, _ = launch(app, port=_free_port(), block=False)
    yield Client(url, verbose=False)
    app.close()



"""Fixtures for the demo tests: a smoke StackGAN checkpoint, a results folder, a running app, and a
reader for the HTML galleries the app answers with.

The checkpoint, the results folder and the served app are session-scoped: the app is trained, built and
started once per test session, however many modules use it. A module that needs a differently configured
app (another tab's models, another results folder) defines its own ``served`` fixture, which overrides this
one for that module only; a test that needs an app of its own builds and launches it in the test."""
import base64
import io
import os
import re
from dataclasses import dataclass

import numpy as np
import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client  # noqa: E402

from core.resolve import build_config  # noqa: E402
from core.train import train  # noqa: E402
from demo.app import build_app, launch  # noqa: E402
from demo_helpers import free_port as _free_port  # noqa: E402

SESSIONS = 8  # the served app remembers this many sessions (small, so the load test can overflow it)


@pytest.fixture
def free_port():
    """A function returning a free localhost port."""
    return _free_port


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    cfg = build_config("stackgan", "smoke", {"model.stage1_steps": 2, "model.stage2_steps": 2})
    return train(cfg, tmp_path_factory.mktemp("demo") / "stackgan", progress=False)


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    """A results/ folder with one paper's aggregate and verdicts, as bench.report writes them."""
    import pandas as pd

    from bench.spec import Claim
    from bench.stats import aggregate, judge

    runs = pd.DataFrame([{"row": r, "seed": s, "metric": "is_mean", "value": v + 0.1 * s, "preset": "smoke",
                          "dataset": "shapes", "git_sha": f"{'ab' * 20}-dirty"}
                         for r, v in (("a", 2.0), ("b", 3.0)) for s in range(3)])
    out = tmp_path_factory.mktemp("results") / "toypaper"
    out.mkdir()
    runs.to_csv(out / "runs.csv", index=False)
    aggregate(runs, {"b": {"is_mean": (3.7, 0.04)}}).to_csv(out / "ablation.csv", index=False)
    pd.DataFrame([judge(Claim("c", "b beats a", "b", ("a",)), runs)]).to_csv(out / "verdicts.csv", index=False)
    # report.md as bench.report lays it out: the row table first, then other tables of as many columns
    (out / "report.md").write_text(
        "# Toy paper (Table 1)\n\n## Summary\n\nText.\n\n## Table\n\nMean ± sd.\n\n"
        "| row | method | CA | is_mean | n | paper IS |\n|---|---|---|---|---|---|\n"
        "| `a` | the baseline | no | 2.100 ± 0.100 | 3 | – |\n| `b` | the method | yes | 3.100 ± 0.100 | 3 | 3.70 ± 0.04 |\n"
        "\n## Claims\n\n| claim | comparison | metric | effect | seeds | verdict |\n|---|---|---|---|---|---|\n"
        "| b beats a | `b` vs `a` | is_mean | +1.0 | 3 | **reproduced** |\n")
    return out.parent


@dataclass
class Served:
    app: object  # gr.Blocks
    url: str
    client: Client
    gradio_temp: str  # GRADIO_TEMP_DIR of the server

    @property
    def model(self):
        return self.app.demo_context.models["stackgan"]


@pytest.fixture(scope="session")
def served(checkpoint, results, tmp_path_factory):
    """The demo app (smoke StackGAN, toy results) served on a free port, started once per session."""
    temp = str(tmp_path_factory.mktemp("gradio"))
    os.environ["GRADIO_TEMP_DIR"] = temp  # read by the app's components as they are built
    app = build_app({"stackgan": checkpoint}, results=results)
    _, url, _ = launch(app, port=_free_port(), block=False, sessions=SESSIONS)
    yield Served(app, url, Client(url, verbose=False), temp)
    app.close()


@pytest.fixture(scope="session")
def client(served):
    return served.client


@dataclass
class Figure:
    caption: str
    filename: str
    image: np.ndarray  # uint8 [H, W, 3]


_FIGURE = re.compile(r'<figure class="sample"><img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*>'
                     r'<figcaption><span>([^<]*)</span><a class="save" href="#" download="([^"]+)"')


def figures(html: str) -> list[Figure]:
    """The images of one gallery answer (``demo.serving.gallery_html``), in order."""
    from html import unescape

    from PIL import Image

    return [Figure(unescape(cap), unescape(name), np.asarray(Image.open(io.BytesIO(base64.b64decode(b64)))))
            for b64, cap, name in _FIGURE.findall(html)]


@pytest.fixture
def gallery():
    """``gallery(html) -> [Figure(caption, filename, image)]``."""
    return figures

"""Issue #29, done when: a family defined in a package of its own (a model, a table with one claim, a tab) is
found by the model registry, the benchmark and the demo without a file of the repository being edited; its
``smoke`` table runs, and its claim appears in the results index (``README.md``, ``index.html``) and in the
Results tab. The package is written into a temporary folder and named in ``$STACKED_GANS_EXTENSIONS``
(:mod:`core.discovery`), the one hook an extension needs."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from core.discovery import ENV

MODEL = '''
    """The toy family's model: an unconditional GAN of one linear layer each way, on 16-px shapes."""
    from dataclasses import dataclass

    import torch
    from torch import nn

    from core import losses
    from core.models import ModelSpec, Optim, Phase


    @dataclass(frozen=True)
    class ToyConfig:
        steps: int = 2    # generator (and discriminator) updates
        z_dim: int = 4    # size of the noise z: the setting the table's rows differ in


    class Toy(nn.Module):
        def __init__(self, cfg: ToyConfig, info):
            super().__init__()
            self.cfg = cfg
            pixels = info.channels * info.resolution ** 2
            self.netG = nn.Sequential(nn.Linear(cfg.z_dim, pixels), nn.Tanh(),
                                      nn.Unflatten(1, (info.channels, info.resolution, info.resolution)))
            self.netD = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 1))


    def train_step(batch, ctx):
        real = batch["image"]                                         # [B, C, R, R]
        fake = ctx.nets["netG"](torch.randn(real.shape[0], ctx.cfg.model.z_dim))
        ctx.update("d", losses.d_loss_real_fake(ctx.nets["netD"](real), ctx.nets["netD"](fake.detach())))
        with ctx.fixed("netD") as D:
            ctx.update("g", losses.g_loss_nonsaturating(D(fake)))


    SPEC = ModelSpec(
        name="toy", config_cls=ToyConfig,
        presets={"smoke": {"dataset": "shapes", "resolution": 16, "batch_size": 8, "dataset_size": 32, "log_every": 1,
                           "sample_every": 10 ** 9, "checkpoint_every": 10 ** 9}},
        build=Toy,
        phases=lambda c: [Phase("train", c.model.steps, {"d": Optim(("netD",), lr=1e-3),
                                                         "g": Optim(("netG",), lr=1e-3)})],
        train_step=train_step,
        generate=lambda model, condition, noise: {"image": model.netG(noise["z"])},
        noise_shapes=lambda cfg: {"z": (cfg.z_dim,)},
    )
'''
TABLE = '''
    """The toy family's table: one claim."""
    from bench.spec import Claim, Row, Table, Unit


    def rows_for(preset):
        return [Row("wide", "toy GAN, z of 8", Unit("toy", {"model.z_dim": 8}), params={"z": 8}),
                Row("narrow", "toy GAN, z of 2", Unit("toy", {"model.z_dim": 2}), params={"z": 2})]


    TABLE = Table(paper="toy", title="Toy family: a wider noise", dataset="shapes", metrics=("fid",),
                  display=("fid",), rows_for=rows_for, paper_metric="fid", paper_scores="no numbers",
                  settings="the size of its noise z", order=5,
                  claims=(Claim("toy-wider-z", "A wider noise draws more realistic toy shapes", "wide", ("narrow",),
                                metric="fid", sesoi=2.0, sesoi_why="FID 2: a toy's threshold",
                                holds_equal="steps, batch and data"),))
'''
TAB = '''
    """The toy family's tab."""
    import gradio as gr

    from demo.tabs import Context, Tab


    def build(ctx: Context) -> None:
        with gr.Tab("Toy"):
            gr.Markdown(f"The toy GAN serves {ctx.checkpoints.get('toy')}", elem_id="toy-tab")


    TAB = Tab("Toy", build, model=True, order=25)
'''
CLAIM_WORDS = "A wider noise draws more realistic toy shapes"


def write_package(root: Path) -> None:
    """``toyfam``, laid out as :mod:`core.discovery` says: ``models/``, ``tables/``, ``demo/*_tab.py``."""
    files = {"toyfam/__init__.py": "", "toyfam/models/__init__.py": "", "toyfam/models/toy.py": MODEL,
             "toyfam/tables/__init__.py": "", "toyfam/tables/toy.py": TABLE, "toyfam/demo/__init__.py": "",
             "toyfam/demo/toy_tab.py": TAB}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def toyfam(tmp_path, monkeypatch):
    """The package on ``sys.path`` and named in ``$STACKED_GANS_EXTENSIONS``; forgotten afterwards."""
    write_package(tmp_path / "ext")
    monkeypatch.syspath_prepend(str(tmp_path / "ext"))
    monkeypatch.setenv(ENV, "toyfam")
    yield tmp_path
    for name in [m for m in sys.modules if m == "toyfam" or m.startswith("toyfam.")]:
        del sys.modules[name]


def test_the_family_is_found_without_editing_the_repository(toyfam, monkeypatch):
    from bench.cells import tables
    from core.models import available_models, get_model_spec

    pytest.importorskip("gradio")
    from demo.app import tabs

    assert get_model_spec("toy").name == "toy" and "toy" in available_models()
    assert "toy" not in available_models(builtin_only=True)
    assert tables()["toy"].claims[0].id == "toy-wider-z"
    assert [t.title for t in tabs()][:4] == ["StackGAN", "SGAN", "Toy", "S²-GAN"]  # its declared order, 25
    from bench.provenance import code_fingerprint

    before = code_fingerprint("toy"), code_fingerprint("stackgan")  # the toy's cells: core, runner, extension
    model = toyfam / "ext" / "toyfam" / "models" / "toy.py"
    model.write_text(model.read_text() + "\n# an edit\n")
    assert code_fingerprint("toy") != before[0] and code_fingerprint("stackgan") == before[1]  # not StackGAN's
    monkeypatch.setenv(ENV, "")  # without the hook, nothing of it is found
    assert "toy" not in available_models() and "toy" not in tables() and "Toy" not in [t.title for t in tabs()]
    monkeypatch.setenv(ENV, "no_such_family")
    with pytest.raises(Exception, match="no_such_family.*PYTHONPATH"):
        available_models()


def _components(results: Path, checkpoints: dict) -> dict[str, str]:
    """The Results tab and the toy tab built on ``results``: their Markdown by elem_id."""
    import gradio as gr

    from demo import results_tab
    from demo.app import tabs
    from demo.tabs import Context

    toy = next(t for t in tabs() if t.title == "Toy")
    with gr.Blocks() as app:
        ctx = Context(checkpoints=checkpoints, results=results)
        results_tab.TAB.build(ctx)
        toy.build(ctx)
    config = app.get_config_file()
    return {c["props"]["elem_id"]: str(c["props"].get("value")) for c in config["components"]
            if c.get("props", {}).get("elem_id") and c["type"] == "markdown"}


@pytest.mark.usefixtures("one_thread")  # ~10 s: four cells of a few hundred parameters, scored on 64 images
def test_the_familys_smoke_table_reaches_the_index_and_the_results_tab(toyfam):
    """``bench.ablations --paper toy --preset smoke`` (two rows, two seeds, in this process), then
    ``bench.index``: the claim is in README.md, index.html and the Results tab, in the words of the table's
    own file (its table.json)."""
    import bench.ablations as ab
    from bench.index import write_index

    pytest.importorskip("gradio")
    results = toyfam / "results"
    assert ab.main(["--paper", "toy", "--preset", "smoke", "--out", str(results / "toy"), "--no-progress",
                    "--jobs", "1"]) == 0
    desc = json.loads((results / "toy" / "table.json").read_text())
    assert desc["paper"] == "toy" and desc["class_noun"] == "shape" and desc["conditions"] == []
    (claim,) = desc["claims"]
    assert (claim["id"], claim["text"], claim["direction"]) == ("toy-wider-z", CLAIM_WORDS, "lower")
    assert claim["holds_equal"] == "steps, batch and data"
    written = write_index(results)
    readme, html = written["readme"].read_text(), written["html"].read_text()
    for text in (readme, html):
        assert CLAIM_WORDS in text and "Toy family: a wider noise" in text and "steps, batch and data" in text
    assert written["forest"].is_file() and written["phone"].is_file()
    shown = _components(results, {"toy": toyfam / "nowhere"})
    assert CLAIM_WORDS in shown["results-every-claim"] and "Toy family: a wider noise" in shown["results-every-claim"]
    assert CLAIM_WORDS in shown["results-summary"] and "toy-wider-z" not in shown["results-every-claim"]
    assert "the size of its noise z" in shown["results-legend"]  # the table file's words for its columns
    assert str(toyfam / "nowhere") in shown["toy-tab"]  # the tab got its checkpoint from the app's mapping

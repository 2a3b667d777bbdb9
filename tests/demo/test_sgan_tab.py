"""The SGAN tab: a class's samples, one row per class, the fixed-(y, z1) strips of the full and the
no-entropy model (same fc3, different z0), seeds that make the same images again, the message when no
model is on disk, the tab in the app (through gradio_client), and SGAN's tables in the Results tab."""
import html
import os
import re

import gradio as gr
import numpy as np
import pandas as pd
import pytest
import torch

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client  # noqa: E402

from core.data.shapes import SHAPES  # noqa: E402
from core.pipeline import Pipeline  # noqa: E402
from core.resolve import build_config  # noqa: E402
from core.train import train  # noqa: E402
from demo import app as demo_app  # noqa: E402
from demo import results_tab, sgan_tab, stackgan_tab  # noqa: E402
from demo.app import build_app, launch  # noqa: E402
from demo.serving import LOADING  # noqa: E402
from demo.sgan_tab import MISSING, N, NO_NOENT, SGANDemo, class_names  # noqa: E402
from demo_helpers import DATA_URI, LEAK, assert_no_leak, free_port, health_table, pngs  # noqa: E402,F401

# At the bare smoke preset (5 steps at lr 1e-4) BatchNorm's running statistics are still far from the
# batch ones and every image comes out the same grey; 40 steps at a larger rate (~2 s) let the noise show.
TRAIN = {"model.independent_steps": 30, "model.joint_steps": 10, "model.lr": 5e-3}




pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A checkpoint folder as shipped: ``sgan-mnist5k`` and its ``-noent`` sibling (and the encoder run)."""
    tmp = tmp_path_factory.mktemp("sgan")
    enc = train(build_config("sgan-encoder", "smoke"), tmp / "enc", progress=False)
    over = {"frozen": [f"netE={enc}:netE"], **TRAIN}
    train(build_config("sgan", "smoke", over), tmp / "sgan-mnist5k", progress=False)
    train(build_config("sgan", "smoke", {**over, "model.ent_weight": 0.0}), tmp / "sgan-mnist5k-noent",
          progress=False)
    return tmp


@pytest.fixture(scope="module")
def demo(root):
    return SGANDemo(root)


@pytest.fixture(scope="module")
def pipes(root):
    return Pipeline.from_checkpoint(root / "sgan-mnist5k"), Pipeline.from_checkpoint(root / "sgan-mnist5k-noent")


def test_finds_the_models_on_disk(demo):
    assert demo.error is None and demo.problems == []
    assert demo.datasets == [("MNIST digits (mnist5k)", "mnist5k")]  # shapes is not on disk: not offered
    m = demo.models["mnist5k"]
    assert m.noent is not None and m.classes == tuple("0123456789")
    assert m.noent.pipe.cfg.model.ent_weight == 0 and m.full.pipe.cfg.model.ent_weight == 10


def test_the_measured_line_reads_the_figures_scores(demo, tmp_path):
    """The intro's numbers come from bench.sgan_figures' scores.json, not from prose: a changed file changes
    them, and a missing or broken file drops the line instead of failing the tab."""
    import json

    assert demo.measured(tmp_path) == ""
    (tmp_path / "mnist5k").mkdir()
    (tmp_path / "mnist5k" / "scores.json").write_text("{not json")
    assert demo.measured(tmp_path) == ""
    scores = {"sgan": {"cond_acc": 0.873, "z0_spread": 0.0612}, "sgan-noent": {"z0_spread": 0.0201}}
    (tmp_path / "mnist5k" / "scores.json").write_text(json.dumps({"scores": scores}))
    line = demo.measured(tmp_path)
    assert "87%" in line and "**0.061**" in line and "**0.020** without it" in line
    real = demo.measured()  # the committed file of the shipped models
    assert "without it" in real and "MNIST digits" in real


def test_the_quality_line_is_the_health_of_the_models_table_rows(demo, tmp_path):
    """Issue #30: the tab's line on how good its models are follows the health file of the SGAN table on the
    model's dataset (results/<table>/health.csv, rows sgan and sgan-no-ent), not prose: a changed file changes it."""
    def gates(diversity, passed):
        return [("fid <= 0.5 x noise", "fid", 6.3, 43.8, True),
                ("diversity >= 0.5 x real", "diversity", diversity, 0.14, passed)]

    health_table(tmp_path / "sgan", "sgan", "mnist5k", {"sgan": gates(0.42, True), "sgan-no-ent": gates(0.03, False)})
    health_table(tmp_path / "sgan-shapes", "sgan", "shapes", {"sgan": gates(0.01, False)})  # not these models'
    line = demo.quality(tmp_path)
    assert line.startswith("**How good are these models?** Of the 2 models here, 1 passes every health gate")
    assert "MNIST digits (mnist5k): SGAN (row `sgan`) passes all 2 measured health gates (2 seeds)." in line
    assert ("MNIST digits (mnist5k): SGAN without the entropy loss (row `sgan-no-ent`) **fails 1 of 2** measured "
            "health gates (2 seeds): diversity 0.03 (must be ≥ 0.14)") in line
    assert "`results/sgan/health.csv`" in line and "sgan-shapes" not in line
    health_table(tmp_path / "sgan", "sgan", "mnist5k", {"sgan": gates(0.05, False), "sgan-no-ent": gates(0.2, True)})
    changed = demo.quality(tmp_path)
    assert "SGAN (row `sgan`) **fails 1 of 2** measured health gates (2 seeds): diversity 0.05 (must be ≥ 0.14)" \
        in changed and "(row `sgan-no-ent`) passes all 2" in changed
    assert "No health check of their table rows is in `results/` yet" in demo.quality(tmp_path / "none")


def test_class_names():
    assert class_names("mnist5k", 10) == tuple("0123456789")
    assert class_names("shapes", 10) == SHAPES and SHAPES[0] == "circle"
    assert class_names("cifar10", 3) == ("class 0", "class 1", "class 2")
    assert class_names("shapes", 4) == ("class 0", "class 1", "class 2", "class 3")  # not its names: fall back


def test_grid_is_eight_samples_of_the_class(demo, pipes, gallery):
    figs = gallery(demo.grid("mnist5k", "3", 5))
    assert len(figs) == N == 8
    assert [f.caption for f in figs] == [f"seed {s}" for s in range(5, 13)]
    assert figs[0].filename == "sgan_mnist5k_3_seed-5.png"
    # exactly the pipeline's images of class 3 at those seeds, enlarged by whole pixels (16 px → 96)
    scale = demo.models["mnist5k"].scale
    want = pngs(pipes[0].generate(labels=[3] * 8, seeds=list(range(5, 13)))["image"], scale)
    assert scale == 6 and figs[0].image.shape == (96, 96, 3)
    assert all(np.array_equal(f.image, w) for f, w in zip(figs, want))
    other = pngs(pipes[0].generate(labels=[4] * 8, seeds=list(range(5, 13)))["image"], scale)
    assert not all(np.array_equal(f.image, o) for f, o in zip(figs, other))  # the class reaches the images


def test_one_row_per_class(demo, gallery):
    html = demo.rows("mnist5k", 2)
    figs = gallery(html)
    assert len(figs) == 10 * 8 and "--columns: 8" in html
    assert [f.caption for f in figs[:2]] == ["0, seed 2", "0, seed 3"] and figs[-1].caption == "9, seed 9"
    row3 = figs[3 * 8:4 * 8]  # row 3 is the grid of class 3 at the same seeds
    assert all(np.array_equal(a.image, b.image) for a, b in zip(row3, gallery(demo.grid("mnist5k", "3", 2))))


def test_fixed_z1_strips_share_fc3_and_differ_in_z0(demo, pipes, gallery):
    full, noent, note = demo.fix_z1("mnist5k", "7", 11, 40)
    ff, fn = gallery(full), gallery(noent)
    assert len(ff) == len(fn) == 8
    assert [f.caption for f in ff] == [f"z0 seed {s}" for s in range(40, 48)] == [f.caption for f in fn]
    assert ff[0].filename == "sgan_mnist5k_7_z1-11_z0-40.png" and fn[0].filename == "sgan_mnist5k-noent_7_z1-11_z0-40.png"
    scale = demo.models["mnist5k"].scale
    for pipe, figs in zip(pipes, (ff, fn)):
        out = pipe.generate(labels=[7] * 8, seeds={"z1": [11] * 8, "z0": list(range(40, 48))})
        assert all(torch.equal(out["fc3"][i], out["fc3"][0]) for i in range(8))  # one fc3 for the strip
        assert not torch.equal(out["image"][1], out["image"][0])  # ... and z0 still changes the image
        assert all(np.array_equal(f.image, w) for f, w in zip(figs, pngs(out["image"], scale)))
    assert len({f.image.tobytes() for f in ff}) > 1
    # the tab's own samples agree: same fc3 across z0; another z1 gives another fc3
    a = demo.samples("mnist5k", [7] * 8, [11] * 8, list(range(40, 48)))
    b = demo.samples("mnist5k", [7] * 8, [12] * 8, list(range(40, 48)))
    assert torch.equal(a["fc3"], a["fc3"][:1].expand_as(a["fc3"])) and not torch.equal(a["fc3"], b["fc3"])
    spreads = [float(x) for x in re.findall(r"\*\*([0-9.]+)\*\*", note)]
    assert len(spreads) == 2 and spreads[0] > 0 and "without the entropy loss" in note


def test_new_z1_and_reroll_z0_step_the_seeds(demo):
    z1, *strips = demo.new_z1("mnist5k", "7", 11, 40)
    assert z1 == 12 and tuple(strips) == demo.fix_z1("mnist5k", "7", 12, 40)
    z0, *strips = demo.reroll_z0("mnist5k", "7", 11, 40)
    assert z0 == 48 and tuple(strips) == demo.fix_z1("mnist5k", "7", 11, 48)  # the next eight z0 seeds
    assert demo.new_z1("mnist5k", "7", 2**31 - 1, 0)[0] == 0  # wraps: every seed can be typed back
    assert demo.fix_z1("mnist5k", "7", 12, 40) != demo.fix_z1("mnist5k", "7", 11, 40)


def test_dataset_pick_updates_the_classes(demo, gallery):
    update, grid, full, noent, note = demo.pick_dataset("mnist5k", 0, 0, 0)
    assert update["choices"] == list("0123456789") and update["value"] == "0"
    assert (grid, full, noent, note) == demo.first_view()


@pytest.mark.parametrize("call, message", [
    (lambda d: d.grid("mnist5k", "eleven", 0), "Pick a class of mnist5k"),
    (lambda d: d.grid("cub", "3", 0), "Pick a dataset from mnist5k"),
    (lambda d: d.grid("mnist5k", "3", -1), "Seed must be a whole number"),
    (lambda d: d.fix_z1("mnist5k", "3", 0, "x"), "z0 seed must be a whole number"),
])
def test_bad_inputs_give_clear_errors(demo, call, message):
    with pytest.raises(gr.Error, match=message):
        call(demo)


def test_missing_checkpoints_give_the_message(tmp_path, root, gallery):
    empty = SGANDemo(tmp_path / "nothing")
    assert empty.error == MISSING and "\n" not in MISSING and "scripts/ship_sgan.sh" in MISSING
    assert empty.first_view() == ("", "", "", "") and empty.datasets == []
    with pytest.raises(gr.Error, match="No SGAN model is on disk yet"):
        empty.grid("mnist5k", "3", 0)
    # only the full model, and a shapes folder that holds no checkpoint: mnist5k still serves
    (tmp_path / "sgan-mnist5k").symlink_to(root / "sgan-mnist5k")
    (tmp_path / "sgan-shapes").mkdir()
    some = SGANDemo(tmp_path)
    assert some.error is None and list(some.models) == ["mnist5k"]
    assert some.problems == ["The shapes model could not be loaded (the server log says why)."]
    full, noent, note = some.fix_z1("mnist5k", "3", 0, 0)
    assert len(gallery(full)) == 8 and gallery(noent) == []
    assert "results/checkpoints/sgan-mnist5k-noent" in noent and "λ_ent = 0" in noent  # title, then how to train
    assert html.escape(NO_NOENT.format(ds="mnist5k")) in noent
    assert "without the entropy loss" not in note  # the spread of the full model only
    assert_no_leak(full, noent, note, *some.problems, MISSING)


# ------------------------------------------------------------------------------------------ the app
@pytest.fixture(scope="module")
def sgan_results(tmp_path_factory):
    """results/ with toy stackgan, sgan (mnist5k) and sgan-shapes tables, as bench.report lays them out."""
    from bench.stats import aggregate

    out = tmp_path_factory.mktemp("results")
    from bench.cells import get_table
    from bench.describe import write_description

    for paper, data, paper_is in (("stackgan", "shapes", (3.7, 0.04)), ("sgan", "mnist5k", (8.59, 0.12)),
                                  ("sgan-shapes", "shapes", (8.59, 0.12))):
        runs = pd.DataFrame([{"row": r, "seed": s, "metric": m, "value": v + 0.1 * s, "preset": "smoke",
                              "dataset": data, "git_sha": "ab" * 20}
                             for r, v in (("a", 2.0), ("b", 3.0)) for s in range(3)
                             for m in ("is_mean", "cond_acc")])
        (out / paper).mkdir()
        runs.to_csv(out / paper / "runs.csv", index=False)
        aggregate(runs, {"b": {"is_mean": paper_is}}).to_csv(out / paper / "ablation.csv", index=False)
        write_description(get_table(paper.split("-")[0]), "smoke", data, out / paper)  # what bench.ablations writes
    return out


def test_results_tab_shows_sgan_in_its_own_words(sgan_results):
    assert results_tab.papers(sgan_results) == ["stackgan", "sgan", "sgan-shapes"]
    assert results_tab.description(sgan_results, "sgan-shapes")["paper"] == "sgan"  # its table.json says whose
    assert not hasattr(results_tab, "PAPERS") and not hasattr(results_tab, "CLASS_NOUNS")  # no list of papers
    for paper, accuracy, where, noun in (("sgan", "class accuracy", "CIFAR-10", "10 digits"),
                                         ("sgan-shapes", "class accuracy", "CIFAR-10", "10 shapes"),
                                         ("stackgan", "caption accuracy", "CUB birds", "10 shapes")):
        summary, claims, legend, table, plot = results_tab.show(sgan_results, paper)
        head = table.splitlines()[2]
        assert f"{accuracy} ↑" in head and f"paper's Inception score ({where})" in head, head
        assert noun in legend and f"measured on {where}" in legend
        assert "in short" in summary and plot is None
    assert "conditioning augmentation" not in results_tab.legend(sgan_results, "sgan")
    assert "the class label" not in results_tab.legend(sgan_results, "stackgan")
    # a folder without table.json: plain, general words, never another paper's
    (sgan_results / "sgan-copy").mkdir(exist_ok=True)
    for f in ("runs.csv", "ablation.csv"):
        (sgan_results / "sgan-copy" / f).write_bytes((sgan_results / "sgan" / f).read_bytes())
    try:
        legend = results_tab.legend(sgan_results, "sgan-copy")
        assert "digit" not in legend and "CIFAR-10" not in legend and "the settings that tell the rows apart" in legend
    finally:
        for f in (sgan_results / "sgan-copy").iterdir():
            f.unlink()
        (sgan_results / "sgan-copy").rmdir()


@pytest.fixture(scope="module")
def served(root, sgan_results, tmp_path_factory):
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    app = build_app({"stackgan": tmp_path_factory.mktemp("none") / "nowhere", "sgan": root}, results=sgan_results)
    _, url, _ = launch(app, port=free_port(), block=False)
    yield app, Client(url, verbose=False)
    app.close()


def test_the_app_serves_the_sgan_tab(served, gallery):
    app, client = served
    assert demo_app.tabs().index(sgan_tab.TAB) == demo_app.tabs().index(stackgan_tab.TAB) + 1
    config = app.get_config_file()
    tabs = [c["props"]["label"] for c in config["components"] if c["type"] == "tabitem"]
    assert tabs == ["StackGAN", "SGAN", "S²-GAN", "Stacked vs single", "Results", "About"]
    header = next(c["props"]["value"] for c in config["components"] if c["type"] == "markdown")
    assert "Try StackGAN, SGAN, S²-GAN and Stacked vs single in their tabs" in header
    markdown = " ".join(str(c["props"].get("value")) for c in config["components"] if c["type"] == "markdown")
    assert "arxiv.org/abs/1612.04357" in markdown and "Fix the class and z1" in markdown
    first = next(c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == "sgan-grid")
    assert first == LOADING  # not the first tab: its images come when it opens (demo.serving.defer_images) ...
    tab = next(c["id"] for c in config["components"] if c["type"] == "tabitem" and c["props"]["label"] == "SGAN")
    (opened,) = [d for d in app.fns.values() if d.targets == [(tab, "select")]]
    assert len(gallery(opened.fn(False)[1])) == 8  # ... before any click on it
    grid = client.predict("mnist5k", "3", 0, api_name="/sgan_samples")
    assert len(gallery(grid)) == 8 and grid == app.demo_context.models["sgan"].grid("mnist5k", "3", 0)
    assert len(gallery(client.predict("mnist5k", 0, api_name="/sgan_rows"))) == 80
    full, noent, note = client.predict("mnist5k", "3", 4, 0, api_name="/sgan_fix_z1")
    assert len(gallery(full)) == len(gallery(noent)) == 8
    assert "class accuracy" in client.predict("sgan", api_name="/results")[3]
    assert_no_leak(grid, full, noent, note)


def test_the_app_without_sgan_models_says_how_to_make_them(tmp_path, sgan_results):
    app = build_app({"stackgan": tmp_path / "nowhere", "sgan": tmp_path / "none"}, results=sgan_results)
    config = app.get_config_file()
    notice = next(c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == "sgan-notice")
    assert MISSING in notice
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        with pytest.raises(Exception, match="No SGAN model is on disk yet") as err:
            Client(url, verbose=False).predict(None, None, 0, api_name="/sgan_samples")
        assert_no_leak(str(err.value))
    finally:
        app.close()

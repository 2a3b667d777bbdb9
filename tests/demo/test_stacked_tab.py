"""The stacked-study tab (Deshmukh, Franz & Tu; issue #18): finding the models by layer type and mode,
Stage-I beside Stage-II (one image for a single GAN), the frozen stack's Stage-I being its parent's, the
three modes side by side at the same seeds, seeds that wrap, the messages when models are missing or
misfiled, the verdict paragraph (or "no table has been run yet"), batching, and the tab served through
gradio_client."""
import os
import re

import gradio as gr
import numpy as np
import pandas as pd
import pytest
import torch

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client  # noqa: E402

from bench.spec import Claim  # noqa: E402
from bench.stats import judge  # noqa: E402
from bench.tables.stacked import STAGE1_MODULES, TABLE  # noqa: E402
from core.pipeline import Pipeline  # noqa: E402
from core.resolve import build_config  # noqa: E402
from core.train import train  # noqa: E402
from demo import stacked_tab  # noqa: E402
from demo.app import launch  # noqa: E402
from demo.serving import SEED_LIMIT  # noqa: E402
from demo.serving import NoiseBatcher, NoiseJob  # noqa: E402
from demo.stacked_tab import (MISSING, N, NO_TABLE, UNREADABLE, StackedDemo,  # noqa: E402
                              verdict_summary)
from demo.tabs import Context  # noqa: E402
from demo_helpers import DATA_URI, LEAK, assert_no_leak, free_port, health_table, pngs  # noqa: E402,F401

# At the bare smoke preset (2 + 2 steps at 2e-4) every image is the same grey; 10 steps at 5e-3 (~1 s per model)
# make the seeds show, so "the tab shows the pipeline's images of these seeds" can fail.
FAST = {"model.lr_g": 5e-3, "model.lr_d": 5e-3}

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)




@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A checkpoint folder as scripts/ship_stacked.sh lays it out, for conv (all three modes, the stacks
    chained from one Stage-I as in the table) and the dense single GAN; the other five are not on disk."""
    tmp = tmp_path_factory.mktemp("stacked")
    conv = {**FAST, "model.layer": "conv"}
    train(build_config("stacked", "smoke", {**conv, "model.mode": "single", "model.stage1_steps": 10,
                                            "model.stage2_steps": 10}), tmp / "stacked-conv-single", progress=False)
    stage1 = train(build_config("stacked", "smoke", {**conv, "resolution": 16, "model.mode": "single",
                                                     "model.stage1_steps": 10, "model.stage2_steps": 0}),
                   tmp / "conv-stage1", progress=False)
    for mode in ("stacked", "full"):
        train(build_config("stacked", "smoke", {**conv, "model.mode": mode, "model.stage1_steps": 0,
                                                "model.stage2_steps": 10},
                           init_from=str(stage1), init_modules=STAGE1_MODULES), tmp / f"stacked-conv-{mode}",
              progress=False)
    train(build_config("stacked", "smoke", {"model.layer": "dense", "model.mode": "single"}),
          tmp / "stacked-dense-single", progress=False)
    return tmp


@pytest.fixture(scope="module")
def demo(root):
    return StackedDemo(root)


@pytest.fixture(scope="module")
def pipes(root):
    return {name: Pipeline.from_checkpoint(root / name)
            for name in ("stacked-conv-single", "stacked-conv-stacked", "stacked-conv-full", "conv-stage1")}


def test_finds_the_models_on_disk(demo):
    assert demo.error is None and demo.problems == []
    assert list(demo.models) == [("dense", "single"), ("conv", "single"), ("conv", "stacked"), ("conv", "full")]
    assert demo.first == ("conv", "single")  # the one the shipped health.csv passes (dense fails every gate)
    assert all(b.pipe.cfg.model.layer == layer and b.pipe.cfg.model.mode == mode
               for (layer, mode), b in demo.models.items())
    text = demo.describe()
    assert "dense (single;" in text and "convolutional (single, stacked, full;" in text
    assert "deep-convolutional" not in text


def test_stage1_beside_stage2_are_the_pipelines_images(demo, pipes, gallery):
    one, two = demo.generate("conv", "stacked", 5)
    f1, f2 = gallery(one), gallery(two)
    assert len(f1) == len(f2) == N == 8
    assert [f.caption for f in f1] == [f"seed {s}" for s in range(5, 13)] == [f.caption for f in f2]
    assert f1[0].filename == "stacked_conv-stacked_stage1_seed-5.png"
    assert f2[0].filename == "stacked_conv-stacked_stage2_seed-5.png"
    assert "Stage-I: 16×16" in one and "frozen" in one and "Stage-II: 32×32" in two
    # both enlarged by whole pixels to 128: Stage-I (16 px) ×8, Stage-II (32 px) ×4
    assert f1[0].image.shape == f2[0].image.shape == (128, 128, 3)
    out = pipes["stacked-conv-stacked"].generate(seeds=list(range(5, 13)))
    assert all(np.array_equal(f.image, w) for f, w in zip(f1, pngs(out["stage1"], 8)))
    assert all(np.array_equal(f.image, w) for f, w in zip(f2, pngs(out["image"], 4)))
    assert len({f.image.tobytes() for f in f2}) == 8  # every seed its own image
    other = gallery(demo.generate("conv", "stacked", 6)[1])
    assert not np.array_equal(other[0].image, f2[0].image) and np.array_equal(other[0].image, f2[1].image)


def test_single_mode_has_only_the_one_image(demo, pipes, gallery):
    one, two = demo.generate("conv", "single", 0)
    assert gallery(one) == [] and "no Stage-I" in one and "only the one image" in one
    figs = gallery(two)
    assert len(figs) == 8 and "Single GAN: 32×32" in two
    want = pngs(pipes["stacked-conv-single"].generate(seeds=list(range(8)))["image"], 4)
    assert all(np.array_equal(f.image, w) for f, w in zip(figs, want))


def test_the_frozen_stacks_stage1_is_its_parent_and_the_full_ones_moved(demo, pipes):
    seeds = list(range(3, 11))
    parent = pipes["conv-stage1"].generate(seeds=seeds)["image"]  # the Stage-I both stacks started from
    stacked, full = demo.samples("conv", "stacked", seeds), demo.samples("conv", "full", seeds)
    assert set(stacked) == set(full) == {"stage1", "image"} and stacked["stage1"].shape == (8, 3, 16, 16)
    torch.testing.assert_close(stacked["stage1"], parent, atol=1e-6, rtol=0)
    assert (full["stage1"] - parent).abs().max() > 1e-3  # Stage-II's loss trained Stage-I on
    assert (full["image"] - stacked["image"]).abs().max() > 1e-3


def test_compare_shows_every_mode_at_the_same_seeds(demo, gallery):
    html = demo.compare("conv", 3)
    figs = gallery(html)
    assert len(figs) == 8 + 2 * 8 + 2 * 8  # single: one row; stacked and full: Stage-I and Stage-II rows
    assert [f.caption for f in figs] == [f"seed {s}" for s in range(3, 11)] * 5
    assert "--columns: 8" in html and html.count('class="compare-mode"') == 3
    rows = [figs[i:i + 8] for i in range(0, 40, 8)]
    single, stacked, full = (demo.generate("conv", m, 3) for m in ("single", "stacked", "full"))
    for row, want in zip(rows, [gallery(single[1]), gallery(stacked[0]), gallery(stacked[1]), gallery(full[0]),
                                gallery(full[1])]):
        assert all(np.array_equal(a.image, b.image) for a, b in zip(row, want))
    # dense: only the single GAN is on disk; the other modes say which command trains them
    dense = demo.compare("dense", 0)
    assert len(gallery(dense)) == 8
    assert dense.count("scripts/ship_stacked.sh dense") == 2 and "results/checkpoints/stacked-dense-" in dense


def test_seeds_wrap_and_next_seeds_steps_them(demo, gallery):
    figs = gallery(demo.generate("conv", "stacked", SEED_LIMIT - 3)[1])
    assert [f.caption for f in figs[:4]] == ["seed 2147483645", "seed 2147483646", "seed 2147483647", "seed 0"]
    zero = gallery(demo.generate("conv", "stacked", 0)[1])
    assert np.array_equal(figs[3].image, zero[0].image)  # "seed 0" after the wrap is seed 0
    seed, one, two = demo.next_seeds("conv", "stacked", 4)
    assert seed == 12 and (one, two) == demo.generate("conv", "stacked", 12)
    assert demo.next_seeds("conv", "stacked", SEED_LIMIT - 1)[0] == 7


@pytest.mark.parametrize("call, message", [
    (lambda d: d.generate("resnet", "single", 0), "Pick a layer type from dense, conv, deepconv"),
    (lambda d: d.generate("conv", "progressive", 0), "Pick a mode from single, stacked, full"),
    (lambda d: d.generate("conv", "single", -1), "Seed must be a whole number"),
    (lambda d: d.generate("conv", "single", "x"), "Seed must be a whole number"),
    (lambda d: d.compare("conv", 2**31), "Seed must be a whole number"),
    (lambda d: d.generate("deepconv", "full", 0), r"deep-convolutional stacked, full backpropagation model is not "
                                                  r"on disk: `scripts/ship_stacked.sh deepconv`"),
])
def test_bad_inputs_give_clear_errors(demo, call, message):
    with pytest.raises(gr.Error, match=message):
        call(demo)


def test_missing_and_misfiled_checkpoints(tmp_path, root, gallery):
    empty = StackedDemo(tmp_path / "nothing")
    assert empty.error == MISSING and "\n" not in MISSING and "scripts/ship_stacked.sh" in MISSING
    assert empty.first is None and empty.first_view() == ("", "", "") and empty.describe() == ""
    with pytest.raises(gr.Error, match="No model of the stacked study is on disk yet"):
        empty.generate("conv", "single", 0)
    with pytest.raises(gr.Error, match="No model of the stacked study is on disk yet"):
        empty.compare("conv", 0)
    # a conv model filed under deepconv, and a folder with no checkpoint: refused; conv-stacked still serves
    (tmp_path / "stacked-conv-stacked").symlink_to(root / "stacked-conv-stacked")
    (tmp_path / "stacked-deepconv-single").symlink_to(root / "stacked-conv-single")
    (tmp_path / "stacked-dense-full").mkdir()
    some = StackedDemo(tmp_path)
    assert some.error is None and list(some.models) == [("conv", "stacked")] and some.first == ("conv", "stacked")
    assert some.problems == [
        "The dense stacked, full backpropagation model could not be loaded (the server log says why).",
        "The deep-convolutional single GAN model could not be loaded (the server log says why)."]
    one, two, cmp = some.first_view()
    assert len(gallery(one)) == len(gallery(two)) == 8 and len(gallery(cmp)) == 16
    assert_no_leak(one, two, cmp, *some.problems, MISSING)


def test_the_batcher_gives_each_job_its_own_samples(pipes):
    pipe = pipes["stacked-conv-stacked"]
    b = NoiseBatcher(pipe)
    a, c = NoiseJob(pipe.noise([0, 1, 2])), NoiseJob(pipe.noise([7]))
    together = b._forward([a, c])  # one pass for two visitors
    assert together["image"].shape == (4, 3, 32, 32) and together["stage1"].shape == (4, 3, 16, 16)
    for key in ("stage1", "image"):
        torch.testing.assert_close(together[key][:3], pipe.generate(seeds=[0, 1, 2])[key], atol=1e-5, rtol=0)
        torch.testing.assert_close(together[key][3:], pipe.generate(seeds=[7])[key], atol=1e-5, rtol=0)
    alone = b.run(NoiseJob(pipe.noise([7])))
    torch.testing.assert_close(alone["image"], together["image"][3:], atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------ the verdicts

def _runs(fid: dict[str, float], seeds=3) -> pd.DataFrame:
    """Toy per-seed FIDs for every row of the table (a row not in ``fid``: 10), as bench writes runs.csv."""
    return pd.DataFrame([{"row": r.id, "seed": s, "metric": "fid", "value": fid.get(r.id, 10.0) + 0.1 * s * (-1) ** s,
                          "preset": "quick", "dataset": "shapes", "git_sha": "ab" * 20}
                         for r in TABLE.rows_for("quick") for s in range(seeds)])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """results/stacked with runs.csv and verdicts.csv of the table's own claims, as bench.report writes them:
    stacking clearly helps conv, clearly hurts deep-conv, and nothing else differs."""
    out = tmp_path_factory.mktemp("results")
    (out / "stacked").mkdir()
    runs = _runs({"stacked-conv": 6.0, "full-conv": 6.0, "stacked-deepconv": 14.0, "full-deepconv": 14.0})
    runs.to_csv(out / "stacked" / "runs.csv", index=False)
    pd.DataFrame([judge(c, runs) for c in TABLE.claims]).to_csv(out / "stacked" / "verdicts.csv", index=False)
    return out


def test_no_table_says_so_plainly(tmp_path):
    assert verdict_summary(tmp_path) == NO_TABLE
    assert "no table has been run yet" in NO_TABLE and "python -m bench.ablations --paper stacked" in NO_TABLE
    (tmp_path / "stacked").mkdir()
    (tmp_path / "stacked" / "verdicts.csv").write_text("something,else\n1,2\n")
    assert verdict_summary(tmp_path) == UNREADABLE  # present but not a verdict file: said, not shown


def test_the_verdicts_in_one_paragraph(results):
    v = pd.read_csv(results / "stacked" / "verdicts.csv")
    assert v.set_index("claim").loc["stack-conv", "verdict"] == "reproduced"
    assert v.set_index("claim").loc["stack-deepconv", "verdict"] == "contradicted"
    text = verdict_summary(results)
    assert "\n" not in text and "no table has been run yet" not in text
    counts = v["verdict"].value_counts()
    from demo.results_tab import VERDICT_WORDS

    listed = ", ".join(f"{counts[k]} {k}" for k in VERDICT_WORDS if k in counts)
    assert f"of the 8 claims, {listed}." in text and counts.get("absent", 0) > 0  # "nothing else differs": absent
    assert "`quick` preset, 3 training seeds" in text
    for claim in TABLE.claims:
        assert claim.text in text
    # each claim's verdict and effect, in the claim's own sentence
    assert ("Stacking beats the single GAN (conv): **reproduced** (FID difference in the claim's favour +4.00, "
            "95% interval") in text
    assert "Stacking beats the single GAN (deep-conv): **contradicted** (FID difference in the claim's favour -4.00" \
        in text
    assert "*inconclusive* is consistent with no gain" in text and "*Contradicted*:" in text
    assert "-0.00" not in text  # an effect that rounds to zero reads +0.00
    assert "*Underpowered*" not in text  # only the verdict words that occur are explained


# ------------------------------------------------------------------------------------------ served

def _app(root, results):
    ctx = Context(checkpoints={"stacked": root}, results=results)
    with gr.Blocks() as app:
        stacked_tab.TAB.build(ctx)
    app.queue()
    app.demo_context = ctx
    return app


@pytest.fixture(scope="module")
def served(root, results, tmp_path_factory):
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    app = _app(root, results)
    _, url, _ = launch(app, port=free_port(), block=False)
    yield app, Client(url, verbose=False)
    app.close()


def _component(config, elem_id):
    return next(c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == elem_id)


def test_the_tab_serves_samples_comparisons_and_verdicts(served, results, gallery):
    app, client = served
    assert stacked_tab.TAB.title == "Stacked vs single" and stacked_tab.TAB.model
    config = app.get_config_file()
    assert len(gallery(_component(config, "stacked-final"))) == 8  # images before any click: dense single
    assert "no Stage-I" in _component(config, "stacked-stage1")
    assert _component(config, "stacked-verdicts") == verdict_summary(results)
    model = app.demo_context.models["stacked"]
    one, two = client.predict("conv", "stacked", 2, api_name="/stacked_samples")
    assert (one, two) == model.generate("conv", "stacked", 2) and len(gallery(one)) == 8
    cmp = client.predict("conv", 2, api_name="/stacked_compare")
    assert len(gallery(cmp)) == 40
    with pytest.raises(Exception, match="is not on disk") as err:
        client.predict("deepconv", "stacked", 0, api_name="/stacked_samples")
    assert_no_leak(one, two, cmp, str(err.value))


def test_the_tab_without_models_or_table_says_how_to_make_them(tmp_path):
    app = _app(tmp_path / "none", tmp_path / "results")
    config = app.get_config_file()
    assert MISSING in _component(config, "stacked-notice")
    assert _component(config, "stacked-verdicts") == NO_TABLE
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        with pytest.raises(Exception, match="No model of the stacked study is on disk yet") as err:
            Client(url, verbose=False).predict("conv", "single", 0, api_name="/stacked_samples")
        assert_no_leak(str(err.value))
    finally:
        app.close()


def test_the_first_view_is_a_healthy_model_when_health_is_known(root, tmp_path):
    from demo.stacked_tab import healthy_rows

    health = tmp_path / "health.csv"
    pd.DataFrame([{"row": "single-dense", "gate": "fid", "passed": False},
                  {"row": "stacked-conv", "gate": "fid", "passed": True},
                  {"row": "stacked-conv", "gate": "recall", "passed": True},
                  {"row": "full-conv", "gate": "fid", "passed": True},
                  {"row": "full-conv", "gate": "recall", "passed": None}]).to_csv(health, index=False)
    assert healthy_rows(health) == {"stacked-conv"}  # a gate not measured is not a pass
    assert StackedDemo(root, health).first == ("conv", "stacked")
    assert StackedDemo(root, tmp_path / "missing.csv").first == ("dense", "single")  # unknown: the table's order


def test_the_quality_line_is_the_health_of_each_models_table_row(demo, tmp_path):
    """Issue #30: one sentence per model on disk (its row <mode>-<layer> of the stacked table), from the table's
    health file: a changed file changes the line."""
    def gates(recall):
        return [("fid <= 0.5 x noise", "fid", 13.6, 27.8, True), ("recall >= 0.05", "recall", recall, 0.05,
                                                                   recall >= 0.05)]

    rows = {"single-conv": gates(0.052), "stacked-conv": gates(0.021), "full-conv": gates(0.015),
            "single-dense": gates(0.0), "single-deepconv": gates(0.2)}  # deep-conv: not on disk, not named
    health_table(tmp_path / "stacked", "stacked", "shapes", rows)
    line = demo.quality(tmp_path)
    assert "Of the 4 models here, 1 passes every health gate of its table row" in line
    assert "Convolutional, single GAN (row `single-conv`) passes all 2 measured health gates (2 seeds)." in line
    assert "Dense, single GAN (row `single-dense`) **fails 1 of 2** measured health gates (2 seeds): recall 0 " \
           "(must be ≥ 0.05)" in line
    assert "deepconv" not in line and "`results/stacked/health.csv`" in line
    health_table(tmp_path / "stacked", "stacked", "shapes", {**rows, "single-dense": gates(0.3)})
    assert "Of the 4 models here, 2 pass every health gate" in demo.quality(tmp_path)

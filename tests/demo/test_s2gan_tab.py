"""The S²-GAN tab: structures and their renderings by seed, one structure re-styled, a real shapes normal map
rendered by the stack's own Style-G (the "rendering engine"), seeds that step and wrap, the messages when the
model or the real images are missing, the tab served in an app (through gradio_client), and the script that
makes the shipped model."""
import os
import re
import subprocess
import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client  # noqa: E402

from core.data import load_dataset  # noqa: E402
from core.data.shapes import SHAPES  # noqa: E402
from core.pipeline import Pipeline  # noqa: E402
from core.resolve import build_config  # noqa: E402
from core.train import train  # noqa: E402
from demo import s2gan_tab  # noqa: E402
from demo.app import launch  # noqa: E402
from demo.s2gan_tab import (MISSING, N, NAME, NO_POOL, NOT_LOADED, POOL, STYLE_NAME, S2GANDemo, S2Job,  # noqa: E402
                            renderer, style_noise)
from demo.tabs import Context  # noqa: E402
from demo_helpers import DATA_URI, LEAK, assert_no_leak, free_port, health_table, pngs  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ship_s2gan.sh"
# At the bare smoke preset (2 steps a phase) BatchNorm's running statistics are still far from the batch ones
# and every image comes out the same; 60 steps of each GAN (~3 s) let both noises show in the images.
TRAIN = {"model.structure_steps": 60, "model.style_steps": 60, "model.joint_steps": 5}

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)



def same(figs, want) -> bool:
    return len(figs) == len(want) and all(np.array_equal(f.image, w) for f, w in zip(figs, want))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A checkpoint folder as shipped: ``s2gan-shapes``, a full S²-GAN trained on a frozen FCN (and that FCN's run)."""
    tmp = tmp_path_factory.mktemp("s2gan")
    fcn = train(build_config("s2gan-fcn", "smoke"), tmp / "fcn", progress=False)
    train(build_config("s2gan", "smoke", {"frozen": [f"netF={fcn}:netF"], **TRAIN}), tmp / NAME, progress=False)
    return tmp


@pytest.fixture(scope="module")
def demo(root):
    return S2GANDemo(root)


@pytest.fixture(scope="module")
def pipe(root):
    return Pipeline.from_checkpoint(root / NAME)


@pytest.fixture(scope="module")
def real(pipe):
    """The real shapes test images the tab offers, loaded here on their own."""
    return load_dataset("shapes", split="test", resolution=pipe.resolution, seed=pipe.cfg.dataset_seed, size=POOL)


def test_finds_the_model_and_its_renderer(demo, pipe):
    assert demo.error is None and demo.problems == []
    stack, render = demo.batcher.pipe, demo.batcher.render
    assert stack.conditions == () and stack.noise_names == ("z_structure", "z_style")
    assert stack.cfg.model.joint_steps == 5 and stack.cfg.model.fcn_weight == 0.1  # the full run, as shipped
    assert render.conditions == ("structure",) and render.noise_names == ("z_style",)
    assert render.model.netG_style is stack.model.netG_style  # the stack's Style-G itself, not a copy
    assert not hasattr(render.model, "netG_structure") and not hasattr(render.model, "netF")
    assert len(demo.pool) == POOL and demo.pool.resolution == pipe.resolution
    assert demo.scale == 6  # 16 px → 96


def test_a_shipped_rendering_engine_renders_the_real_structures_instead_of_the_stacks_style_g(root, pipe, real,
                                                                                             tmp_path, gallery):
    """With ``s2gan-shapes-style`` beside the stack, the last part renders with that Style-GAN (same style noise);
    the first two parts are the stack's as before; one that does not fit is logged and the stack's Style-G used."""
    (tmp_path / NAME).symlink_to(root / NAME)
    fcn = root / "fcn"
    style = train(build_config("s2gan", "smoke", {"frozen": [f"netF={fcn}:netF"], "model.structure": False,
                                                  "model.structure_steps": 0, "model.joint_steps": 0,
                                                  "model.style_steps": 30}), tmp_path / STYLE_NAME, progress=False)
    two = S2GANDemo(tmp_path)
    assert two.error is None and two.render_name == STYLE_NAME and STYLE_NAME in two.describe()
    engine = Pipeline.from_checkpoint(style)
    item = real.item(7, keys=("normals",))["normals"]
    want = engine.generate(structure=item[None].expand(N, -1, -1, -1), noise=style_noise(pipe, list(range(3, 11))))
    assert same(gallery(two.real(7, 3))[2:], pngs(want["image"], 6))
    stacks = renderer(pipe).generate(structure=item[None].expand(N, -1, -1, -1),
                                     noise=style_noise(pipe, list(range(3, 11))))["image"]
    assert (want["image"] - stacks).abs().max() > 1e-3  # another network than the stack's Style-G
    assert two.samples(5) == S2GANDemo(root).samples(5)  # the stack's own parts are unchanged
    # a rendering engine that is not a Style-GAN alone (here: a full stack) is refused; the stack's Style-G renders
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / NAME).symlink_to(root / NAME)
    (bad / STYLE_NAME).symlink_to(root / NAME)
    fallback = S2GANDemo(bad)
    assert fallback.error is None and fallback.render_name is None and "stack's own Style-GAN" in fallback.describe()
    assert fallback.real(7, 3) == S2GANDemo(root).real(7, 3)


def test_the_renderer_renders_the_stacks_own_structures_as_the_stack_does(pipe):
    render = renderer(pipe)
    out = pipe.generate(seeds={"z_structure": [3, 4, 5], "z_style": [7, 8, 9]})
    z = style_noise(pipe, [7, 8, 9])  # the stack's z_style of style seeds 7, 8, 9
    assert torch.equal(z["z_style"], pipe.noise({"z_structure": [3, 4, 5], "z_style": [7, 8, 9]})["z_style"])
    again = render.generate(structure=out["normals"], noise=z)
    torch.testing.assert_close(again["image"], out["image"], rtol=0, atol=1e-5)
    torch.testing.assert_close(again["normals"], out["normals"], rtol=0, atol=1e-6)
    # the renderer's own seeds draw z_style first from each stream: another noise, so the tab never uses them
    assert (render.generate(structure=out["normals"], seeds=[7, 8, 9])["image"] - out["image"]).abs().max() > 1e-3
    # the structure reaches the rendering: another structure with the same style noise renders otherwise
    other = render.generate(structure=out["normals"].flip(0), noise=z)["image"]
    assert (other[0] - out["image"][0]).abs().max() > 1e-3
    # and a Style-G of the same sizes that was never trained renders otherwise too
    fresh = Pipeline(pipe.spec.build(render.cfg.model, pipe.info), render.cfg, pipe.info, pipe.meta)
    assert (fresh.generate(structure=out["normals"], noise=z)["image"] - out["image"]).abs().max() > 1e-3


def test_one_pass_answers_drawn_and_given_structures_in_the_jobs_order(demo, pipe, real):
    """Requests that meet in one pass (the stack's and the renderer's) each get what they would alone."""
    given = real.item(1, keys=("normals",))["normals"][None].expand(2, -1, -1, -1)
    jobs = [S2Job(pipe.noise([1, 2])), S2Job(style_noise(pipe, [5, 6]), structure=given), S2Job(pipe.noise([3]))]
    out = demo.batcher._forward(jobs)
    alone = [demo.batcher._forward([j]) for j in jobs]
    assert out["image"].shape == (5, 3, 16, 16)
    for k in ("image", "normals"):
        torch.testing.assert_close(out[k], torch.cat([a[k] for a in alone]), rtol=0, atol=1e-5)
    torch.testing.assert_close(out["normals"][2:4], given, rtol=0, atol=1e-6)  # the given maps, in place
    torch.testing.assert_close(out["image"][[0, 1, 4]], pipe.generate(seeds=[1, 2, 3])["image"], rtol=0, atol=1e-5)


def test_samples_are_the_pipelines_structures_above_their_renderings(demo, pipe, gallery):
    html = demo.samples(5)
    figs = gallery(html)
    assert len(figs) == 2 * N == 16 and html.count("--columns: 8") == 2
    assert [f.caption for f in figs] == [f"seed {s}" for s in range(5, 13)] * 2
    assert figs[0].filename == "s2gan_structure_seed-5.png" and figs[8].filename == "s2gan_image_seed-5.png"
    assert figs[0].image.shape == (96, 96, 3)
    out = pipe.generate(seeds=list(range(5, 13)))  # both noises of sample i from seed 5 + i
    assert same(figs[:8], pngs(out["normals"], 6)) and same(figs[8:], pngs(out["image"], 6))
    assert len({f.image.tobytes() for f in figs[:8]}) == 8  # eight different structures ...
    assert len({f.image.tobytes() for f in figs[8:]}) == 8  # ... and renderings
    assert not same(figs[:8], pngs(pipe.generate(seeds=list(range(6, 14)))["normals"], 6))  # the seed matters


def test_restyle_keeps_the_structure_and_changes_its_style(demo, pipe, gallery):
    figs = gallery(demo.restyle(11, 40))
    assert len(figs) == 1 + N
    assert figs[0].caption == "structure seed 11" and figs[0].filename == "s2gan_structure_seed-11.png"
    assert [f.caption for f in figs[1:]] == [f"style seed {s}" for s in range(40, 48)]
    assert figs[1].filename == "s2gan_structure-11_style-40.png"
    out = pipe.generate(seeds={"z_structure": [11] * 8, "z_style": list(range(40, 48))})
    assert torch.equal(out["normals"], out["normals"][:1].expand_as(out["normals"]))  # one structure
    assert same(figs[:1], pngs(out["normals"][:1], 6)) and same(figs[1:], pngs(out["image"], 6))
    assert len({f.image.tobytes() for f in figs[1:]}) == 8  # the style noise changes every rendering
    # the tab's own tensors: the same normals across the strip; another structure seed gives other normals
    a, b = demo.generate([11] * 8, list(range(40, 48))), demo.generate([12] * 8, list(range(40, 48)))
    assert torch.equal(a["normals"], a["normals"][:1].expand_as(a["normals"]))
    assert (a["normals"] - b["normals"]).abs().max() > 1e-3 and (a["image"] - b["image"]).abs().max() > 1e-3


def test_new_structure_and_reroll_style_step_the_seeds(demo):
    s, strip = demo.new_structure(11, 40)
    assert s == 12 and strip == demo.restyle(12, 40)
    t, strip = demo.reroll_style(11, 40)
    assert t == 48 and strip == demo.restyle(11, 48)  # the next eight style seeds
    assert demo.new_structure(2**31 - 1, 0)[0] == 0  # wraps: every seed can be typed back
    assert demo.reroll_style(0, 2**31 - 4)[0] == 4
    assert demo.restyle(12, 40) != demo.restyle(11, 40)


def test_a_real_structure_is_rendered_with_eight_style_noises(demo, pipe, real, gallery):
    html = demo.real(7, 3)
    figs = gallery(html)
    item = real.item(7, keys=("image", "normals", "label"))
    assert f"Real test image 7: {SHAPES[item['label']]}" in html
    assert len(figs) == 2 + N and [f.caption for f in figs[:2]] == ["the image", "its normal map"]
    assert [f.filename for f in figs[:2]] == ["shapes_test-7.png", "shapes_test-7_normals.png"]
    assert same(figs[:2], pngs(torch.stack([item["image"], item["normals"]]), 6))
    assert [f.caption for f in figs[2:]] == [f"style seed {s}" for s in range(3, 11)]
    assert figs[2].filename == "s2gan_shapes_test-7_style-3.png"
    want = renderer(pipe).generate(structure=item["normals"][None].expand(8, -1, -1, -1),
                                   noise=style_noise(pipe, list(range(3, 11))))
    assert same(figs[2:], pngs(want["image"], 6))
    # a style seed means one noise all over the tab: the stack's own structure renders here as in its samples
    drawn = demo.generate([0], [3])
    torch.testing.assert_close(demo.render(drawn["normals"], [3])["image"], drawn["image"], rtol=0, atol=1e-5)
    # what reaches the Style-G is the real normal map (the tab's tensors), and another image renders otherwise
    ours = demo.render(item["normals"][None], [3])
    torch.testing.assert_close(ours["normals"][0], item["normals"], rtol=0, atol=1e-6)
    other = real.item(8, keys=("normals",))["normals"]
    assert not torch.allclose(other, item["normals"])
    assert (demo.render(other[None], [3])["image"] - ours["image"]).abs().max() > 1e-3


def test_next_image_and_reroll_step_and_wrap(demo):
    i, strip = demo.next_real(7, 3)
    assert i == 8 and strip == demo.real(8, 3)
    assert demo.next_real(POOL - 1, 3)[0] == 0  # the last image is followed by the first
    t, strip = demo.reroll_real(7, 3)
    assert t == 11 and strip == demo.real(7, 11)
    assert demo.real(8, 3) != demo.real(7, 3)


def test_first_view_is_seed_zero_everywhere(demo):
    assert demo.first_view() == (demo.samples(0), demo.restyle(0, 0), demo.real(0, 0))
    assert "Model here: `s2gan-shapes` (16×16 images from 8×8 structures, smoke preset" in demo.describe()


def test_the_quality_paragraph_writes_no_measured_number():
    """Issue #28: the tab's prose carries no measured number (a size, a time, a score) that could go stale; the
    model's size and steps come from its config (``describe``), the measurements from docs/ and the Results tab."""
    prose = s2gan_tab.QUALITY.replace("s2gan.md", "")
    assert not re.search(r"\d", prose), prose


def test_the_quality_line_is_the_health_of_the_stacks_table_row(demo, tmp_path):
    """Issue #30: whether the stack is healthy is read from the S²-GAN table's health file (row stack-joint), with
    every failed gate's numbers, and the gates the table declares that the file lacks said to be unmeasured."""
    gates = [("fid <= 0.5 x noise", "fid", 49.4, 26.2, False), ("diversity >= 0.5 x real", "diversity", 0.08, 0.38,
                                                                 False)]
    health_table(tmp_path / "s2gan", "s2gan", "shapes", {"stack-joint": gates, "style-fcn": gates[:1]})
    line = demo.quality(tmp_path)
    assert line.startswith("**How good are these models?** " + s2gan_tab.QUALITY)
    assert ("The stack that draws the first two parts (row `stack-joint`) **fails 2 of 2** measured health gates "
            "(2 seeds): FID 49.4 (must be ≤ 26.2): the images are far from the real ones; diversity 0.08 (must be "
            "≥ 0.38): the images barely differ from one another.") in line
    assert "style-fcn" not in line  # no rendering engine on disk here: the stack's own Style-G renders
    declared = {"stack-joint": gates + [("structure_spread >= 0.5 x real", "structure_spread", 0.01, 0.2, False)]}
    health_table(tmp_path / "s2gan", "s2gan", "shapes", declared)
    assert ("structure spread 0.01 (must be ≥ 0.2): the Structure-GAN draws nearly the same map for every seed"
            in demo.quality(tmp_path))
    health_table(tmp_path / "s2gan", "s2gan", "shapes", {"stack-joint": [(g, m, v, t, True) for g, m, v, t, _ in gates]})
    assert "(row `stack-joint`) passes all 2 measured health gates" in demo.quality(tmp_path)


@pytest.mark.parametrize("call, message", [
    (lambda d: d.samples(-1), "Seed must be a whole number"),
    (lambda d: d.samples(1.5), "Seed must be a whole number"),
    (lambda d: d.restyle(0, "x"), "Style seed must be a whole number"),
    (lambda d: d.restyle(2**31, 0), "Structure seed must be a whole number from 0 to 2147483647"),
    (lambda d: d.real(POOL, 0), f"Image number must be a whole number from 0 to {POOL - 1}"),
    (lambda d: d.next_real(None, 0), "Image number must be a whole number"),
])
def test_bad_inputs_give_clear_errors(demo, call, message):
    with pytest.raises(gr.Error, match=message):
        call(demo)


def test_no_model_on_disk_gives_the_message(tmp_path):
    empty = S2GANDemo(tmp_path / "nothing")
    assert empty.error == MISSING and "\n" not in MISSING and "scripts/ship_s2gan.sh" in MISSING
    assert "results/checkpoints/s2gan-shapes" in MISSING and empty.problems == []
    assert empty.first_view() == ("", "", "") and empty.describe() == ""
    for call in (lambda: empty.samples(0), lambda: empty.restyle(0, 0), lambda: empty.real(0, 0)):
        with pytest.raises(gr.Error, match="No S²-GAN model is on disk yet"):
            call()


def test_a_model_that_cannot_be_loaded_is_reported_not_shown(root, tmp_path):
    (tmp_path / NAME).symlink_to(root / "fcn")  # a normal predictor's run: it makes no images
    bad = S2GANDemo(tmp_path)
    assert bad.error == NOT_LOADED and bad.batcher is None and bad.first_view() == ("", "", "")
    with pytest.raises(gr.Error, match="could not be loaded"):
        bad.samples(0)
    assert_no_leak(bad.error, MISSING, NO_POOL)


def test_without_the_real_images_the_rest_still_works(root, monkeypatch, gallery):
    def broken(*args, **kwargs):
        raise OSError("/tmp/cache is read-only")

    monkeypatch.setattr(s2gan_tab, "load_dataset", broken)
    part = S2GANDemo(root)
    assert part.error is None and part.problems == [NO_POOL] and part.pool is None
    samples, restyle, real = part.first_view()
    assert len(gallery(samples)) == 16 and len(gallery(restyle)) == 9 and real == ""
    with pytest.raises(gr.Error, match="rendering engine below is off"):
        part.real(0, 0)
    assert_no_leak(samples, restyle, *part.problems)


# ------------------------------------------------------------------------------------------ the tab in an app
def _app(folder, results):
    with gr.Blocks() as app:
        ctx = Context(checkpoints={"s2gan": folder}, results=results)
        s2gan_tab.TAB.build(ctx)
    app.queue()
    app.demo_context = ctx
    return app


@pytest.fixture(scope="module")
def served(root, tmp_path_factory):

    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    app = _app(root, tmp_path_factory.mktemp("results"))
    _, url, _ = launch(app, port=free_port(), block=False)
    yield app, Client(url, verbose=False)
    app.close()


def test_the_tab_serves_its_three_parts(served, gallery):
    app, client = served
    assert s2gan_tab.TAB.title == "S²-GAN" and s2gan_tab.TAB.model
    config = app.get_config_file()
    assert [c["props"]["label"] for c in config["components"] if c["type"] == "tabitem"] == ["S²-GAN"]
    markdown = " ".join(str(c["props"].get("value")) for c in config["components"] if c["type"] == "markdown")
    assert "arxiv.org/abs/1603.05631" in markdown and "rendering engine" in markdown and "lavender" in markdown
    assert not any(c["props"].get("elem_id") == "s2gan-notice" for c in config["components"])
    first = {c["props"]["elem_id"]: c["props"]["value"] for c in config["components"]
             if str(c["props"].get("elem_id")).endswith(("-grid", "-strip"))}
    assert [len(gallery(first[k])) for k in ("s2gan-grid", "s2gan-restyle-strip", "s2gan-real-strip")] == [16, 9, 10]
    # each step button writes the box it steps and the strip it belongs to
    ids = {c["id"]: c["props"].get("elem_id") or c["props"].get("label") for c in config["components"]}
    wired = {ids[d["targets"][0][0]]: [ids[o] for o in d["outputs"]] for d in config["dependencies"] if d["targets"]}
    assert wired["s2gan-new-structure"] == ["Structure seed", "s2gan-restyle-strip"]
    assert wired["s2gan-reroll-style"] == ["Style seed", "s2gan-restyle-strip"]
    assert wired["s2gan-next-real"] == ["Real image", "s2gan-real-strip"]
    assert wired["s2gan-reroll-real"] == ["Style seed", "s2gan-real-strip"]
    assert wired["s2gan-real"] == ["s2gan-real-strip"] and wired["s2gan-samples"] == ["s2gan-grid"]
    model = app.demo_context.models["s2gan"]
    grid = client.predict(3, api_name="/s2gan_samples")
    assert grid == model.samples(3) and len(gallery(grid)) == 16
    strip = client.predict(2, 9, api_name="/s2gan_restyle")
    assert strip == model.restyle(2, 9)
    rendered = client.predict(4, 0, api_name="/s2gan_real")
    assert rendered == model.real(4, 0)
    with pytest.raises(Exception, match=f"greater than maximum value {POOL - 1}") as err:  # Gradio's own check
        client.predict(POOL, 0, api_name="/s2gan_real")
    assert_no_leak(grid, strip, rendered, str(err.value))


def test_the_tab_without_a_model_says_how_to_make_one(tmp_path, free_port):
    app = _app(tmp_path / "none", tmp_path)
    config = app.get_config_file()
    notice = next(c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == "s2gan-notice")
    assert MISSING in notice
    assert all(not c["props"].get("interactive", True) for c in config["components"] if c["type"] == "button")
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        with pytest.raises(Exception, match="No S²-GAN model is on disk yet") as err:
            Client(url, verbose=False).predict(0, api_name="/s2gan_samples")
        assert_no_leak(str(err.value))
    finally:
        app.close()


# ------------------------------------------------------------------------------------------ the ship script
def test_the_ship_script_makes_what_the_tab_reads():
    text = SCRIPT.read_text()
    assert os.access(SCRIPT, os.X_OK) and SCRIPT.name in MISSING
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    assert f'"$DEST/{NAME}"' in text and "DEST=${DEST:-results/checkpoints}" in text  # the folder the tab reads
    assert "PRESET=${PRESET:-quick}" in text and "checkpoints/final/" in text
    assert "--model s2gan-fcn" in text and 'frozen=[\\"netF=$fcn:netF\\"]' in text


@pytest.mark.slow
def test_the_ship_script_at_smoke_gives_a_model_the_tab_serves(tmp_path, gallery):
    env = {**os.environ, "PY": sys.executable, "RUNS": str(tmp_path / "runs"), "DEST": str(tmp_path / "ship"),
           "PRESET": "smoke"}
    done = subprocess.run(["bash", str(SCRIPT)], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in (NAME, STYLE_NAME):
        assert sorted(p.name for p in (tmp_path / "ship" / name).iterdir()) == ["config.json", "model.safetensors"]
    shipped = S2GANDemo(tmp_path / "ship")
    assert shipped.error is None and shipped.stack.cfg.model.joint_steps == 2  # after the joint phase
    assert shipped.render_name == STYLE_NAME and shipped.batcher.render.conditions == ("structure",)
    assert len(gallery(shipped.samples(0))) == 16


SHIPPED = REPO / "results" / "checkpoints"


def test_the_shipped_model_generates_by_seed(gallery):
    """The S²-GAN and its Style-GAN ship in results/checkpoints/ (the demo serves them): no skip if they vanish."""
    for name in (NAME, STYLE_NAME):
        assert all((SHIPPED / name / f).is_file() for f in ("config.json", "model.safetensors")), f"{name} not shipped"
    shipped = S2GANDemo(SHIPPED)
    assert shipped.error is None and shipped.problems == [] and shipped.render_name == STYLE_NAME
    assert shipped.stack.cfg.model.joint_steps > 0 and shipped.stack.cfg.dataset == "shapes"
    assert shipped.samples(5) == shipped.samples(5) and len(gallery(shipped.samples(5))) == 16
    a = shipped.generate([1, 2], [3, 4])
    torch.testing.assert_close(shipped.generate([2], [4])["image"], a["image"][1:], rtol=0, atol=1e-4)
    assert (a["normals"].norm(dim=1) - 1).abs().max() < 1e-4  # unit normals, as the Structure-G makes them
    assert a["image"].shape == (2, 3, 32, 32) and a["normals"].shape == (2, 3, 32, 32)

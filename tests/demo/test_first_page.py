"""The first page a visitor downloads (issue #30): at most 400 kB as the app ships, the other tabs' images coming
when their tab opens (and only the first time), the page gzip-compressed for a browser that accepts it, each
model tab's line on how good its models are built from the committed health files, and the Results tab's sample
sheets served small, lazily, from results/<table>/samples/."""
import gzip
import io
import json
import os
import re
from pathlib import Path

import gradio as gr
import httpx
import pandas as pd
import pytest
from PIL import Image

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from demo import health  # noqa: E402
from demo.app import DEFAULT_RESULTS, build_app, launch  # noqa: E402
from demo.files import SMALL, SampleSheets  # noqa: E402
from demo.results_tab import sheets, sheets_html  # noqa: E402
from demo.serving import LOADING, defer_images  # noqa: E402
from demo.sharing import accepts_gzip  # noqa: E402
from demo_helpers import failing_gates, free_port, health_table  # noqa: E402

MAX_FIRST_PAGE = 400_000  # bytes of the page before any image loads lazily (issue #30's bound)
IMAGE = "data:image/png;base64,iVBORw0KGgo="  # an inline image, as a gallery holds them


# ------------------------------------------------------------------------------------------ the shipped app
@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The app as it ships (every committed model, the committed results/), served on a free port."""
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    app = build_app()
    _, url, _ = launch(app, port=free_port(), block=False)
    yield app, url
    app.close()


def _props(config) -> dict:
    return {c["props"].get("elem_id"): c["props"] for c in config["components"] if c["props"].get("elem_id")}


def test_the_first_page_weighs_at_most_400_kB_and_travels_compressed(shipped):
    app, url = shipped
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    size = len(plain.content)
    assert size <= MAX_FIRST_PAGE, f"the first page is {size:,} bytes"
    print(f"first page: {size:,} bytes")  # the number in README's demo section (pytest -s)
    # only the first tab's images are in it: StackGAN's two galleries (4 + 4) and its 8 training images
    assert len(re.findall(r"data:image/png;base64,", plain.text)) == 16
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as packed:
        raw = b"".join(packed.iter_raw())
        assert packed.headers["content-encoding"] == "gzip" and "accept-encoding" in packed.headers["vary"].lower()
    assert gzip.decompress(raw) == plain.content and len(raw) < size / 2
    print(f"first page, gzip: {len(raw):,} bytes")


def test_every_other_tab_gets_its_first_images_when_it_opens_and_only_once(shipped):
    app, _ = shipped
    config = app.get_config_file()
    props = _props(config)
    models = app.demo_context.models
    firsts = {"SGAN": (("sgan-grid", "sgan-full-strip", "sgan-noent-strip"), models["sgan"].first_view()[:3]),
              "S²-GAN": (("s2gan-grid", "s2gan-restyle-strip", "s2gan-real-strip"), models["s2gan"].first_view()),
              "Stacked vs single": (("stacked-final", "stacked-compare"), models["stacked"].first_view()[1:])}
    ids = {c["id"]: c["props"].get("elem_id") for c in config["components"]}
    tabs = {c["props"]["label"]: c["id"] for c in config["components"] if c["type"] == "tabitem"}
    for title, (galleries, views) in firsts.items():
        assert all(props[g]["value"] == LOADING for g in galleries), title  # not in the page
        (dep,) = [d for d in app.fns.values() if [t[0] for t in d.targets] == [tabs[title]]
                  and d.targets[0][1] == "select"]
        assert dep.api_visibility == "private" and not dep.queue
        named = [ids[o._id] for o in dep.outputs[1:]]
        first = dict(zip(named, dep.fn(False)[1:]))
        for g, view in zip(galleries, views):
            assert first[g] == view and "data:image/png" in view, (title, g)  # the images made at start-up
        assert dep.fn(False)[0] is True  # the visit remembers the tab was opened ...
        assert all(v == gr.skip() for v in dep.fn(True))  # ... and a second opening leaves the galleries be
    assert "data:image/png" in props["stage2-gallery"]["value"]  # the first tab's are in the page


def test_defer_images_defers_only_the_galleries_of_tabs_not_shown_first():
    with gr.Blocks() as app:
        with gr.Tab("First"):
            shown = gr.HTML(f'<img src="{IMAGE}">')
        with gr.Tab("Second") as second:
            with gr.Row():
                later = gr.HTML(f'<img src="{IMAGE}">')
            words = gr.HTML("<p>no image</p>")
    assert defer_images(app) == 1
    assert shown.value == f'<img src="{IMAGE}">' and later.value == LOADING and words.value == "<p>no image</p>"
    (dep,) = [d for d in app.fns.values() if d.targets == [(second._id, "select")]]
    assert dep.fn(False) == [True, f'<img src="{IMAGE}">']
    assert "Loading" in LOADING and 'role="status"' in LOADING


def test_accepts_gzip_reads_the_header():
    def scope(value):
        return {"headers": [(b"accept-encoding", value.encode())]}

    assert accepts_gzip(scope("gzip, deflate, br")) and accepts_gzip(scope("br;q=1.0, GZIP;q=0.5"))
    assert accepts_gzip(scope("*"))
    assert not accepts_gzip(scope("identity")) and not accepts_gzip(scope("gzip;q=0, br"))
    assert not accepts_gzip({"headers": []})


# ------------------------------------------------------------------------------------------ quality lines
def test_each_model_tabs_quality_line_is_the_committed_health_files(shipped):
    """The shipped app's lines: each names its model's row and the file, and every failed gate of that row with
    the numbers in the committed health.csv (read here on their own)."""
    app, _ = shipped
    props = _props(app.get_config_file())
    models, results = app.demo_context.models, DEFAULT_RESULTS
    for tab in ("sgan", "s2gan", "stacked"):
        line = props[f"{tab}-quality"]["value"]
        assert line == models[tab].quality(results) and line.startswith(health.QUESTION), tab
    s2 = props["s2gan-quality"]["value"]
    assert "(row `stack-joint`) **fails" in s2 and "`results/s2gan/health.csv`" in s2
    for want in failing_gates(results / "s2gan", "stack-joint") + failing_gates(results / "s2gan", "style-fcn"):
        assert want in s2, want
    stacked = props["stacked-quality"]["value"]
    for row in ("single-dense", "full-deepconv"):
        for want in failing_gates(results / "stacked", row):
            assert want in stacked, (row, want)
    sgan = props["sgan-quality"]["value"]
    assert "`results/sgan/health.csv`" in sgan and "`results/sgan-shapes/health.csv`" in sgan
    for want in failing_gates(results / "sgan-shapes", "sgan"):
        assert want in sgan, want


def test_the_health_words_follow_the_file(tmp_path):
    folder = tmp_path / "toy"
    health_table(folder, "toy", "shapes", {"a": [("fid <= 0.5 x noise", "fid", 12.0, 20.0, True),
                                                  ("recall >= 0.05", "recall", 0.01, 0.05, False)]})
    line = health.quality_line([("the toy", folder, "a")], "make it")
    assert "The toy (row `a`) **fails 1 of 2** measured health gates (2 seeds): recall 0.01 (must be ≥ 0.05)" in line
    assert "`results/toy/health.csv`" in line
    health_table(folder, "toy", "shapes", {"a": [("fid <= 0.5 x noise", "fid", 12.0, 20.0, True),
                                                  ("recall >= 0.05", "recall", 0.07, 0.05, True)]})
    assert "passes all 2 measured health gates (2 seeds)" in health.quality_line([("the toy", folder, "a")], "x")
    # a gate the table declares but the file lacks, or holds without a value, is not measured (never a pass)
    h = pd.read_csv(folder / "health.csv", dtype=str)
    h.loc[1, ["value", "passed"]] = ["", ""]
    h.to_csv(folder / "health.csv", index=False)
    desc = json.loads((folder / "table.json").read_text())
    desc["rows"][0]["gates"].append("structure_spread >= 0.5 x real")
    (folder / "table.json").write_text(json.dumps(desc))
    rh = health.row_health(folder, "a")
    assert [g.passed for g in rh.gates] == [True, None, None] and not health.healthy(rh)
    assert "not measured: recall, structure spread" in health.row_words(rh)
    assert "No health check" in health.quality_line([("the toy", tmp_path / "none", "a")], "make it")
    assert health.table_folder(tmp_path, "toy", "shapes") == folder and health.table_folder(tmp_path, "toy", "x") is None


# ------------------------------------------------------------------------------------------ sample sheets
def test_the_results_tab_shows_each_tables_sample_sheets_small_and_lazily(shipped, tmp_path):
    app, url = shipped
    found = sheets(DEFAULT_RESULTS, "stacked")
    assert [r for r, _, _ in found][:3] == ["single-dense", "stacked-dense", "full-dense"]  # the table's order
    html = sheets_html(DEFAULT_RESULTS, "stacked")
    imgs = re.findall(r"<img [^>]*>", html)
    assert len(imgs) == len(found) == 9
    for img, (row, words, f) in zip(imgs, found):
        assert 'loading="lazy"' in img and f'src="sample-sheets/stacked/small/{row}.webp"' in img
        alt = re.search(r'alt="([^"]*)"', img).group(1)
        assert alt.startswith(f"Sample sheet of row {row} of ") and words and words in alt
    # the page shows the first table's sheets, and the tab's private event those of the table picked
    props = _props(app.get_config_file())
    assert props["results-sheets"]["value"] == sheets_html(DEFAULT_RESULTS, "stackgan")
    # served: the small copy at most SMALL px wide, the full sheet as committed, nothing outside samples/
    f = found[-1][2]
    small = httpx.get(f"{url}sample-sheets/stacked/small/{f.stem}.webp")
    assert small.status_code == 200 and small.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(small.content)) as im:
        assert im.format == "WEBP" and im.width == SMALL and f'width="{SMALL}" height="{im.height}"' in imgs[-1]
    assert len(small.content) < f.stat().st_size / 5  # small: a fifth of the sheet at most
    assert httpx.get(f"{url}sample-sheets/stacked/{f.name}").content == f.read_bytes()
    for bad in ("sample-sheets/stacked/nothing.png", "sample-sheets/stacked/..%2Fablation.png",
                "sample-sheets/../results/stacked/ablation.png", "sample-sheets/stacked/small/ablation.webp",
                f"sample-sheets/stacked/small/{f.name}"):
        assert httpx.get(url + bad).status_code == 404, bad
    assert SampleSheets(None, DEFAULT_RESULTS).file("stacked", "ablation.png") is None
    assert sheets_html(tmp_path, "stacked") == "" and sheets(DEFAULT_RESULTS, None) == []

"""The demo through its API (gradio_client against an app launched here): images, seeds, batching,
bad inputs, errors a visitor may read, bounded memory under load, the first view, the results tab."""
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest
import torch

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client  # noqa: E402

from demo import app as demo_app  # noqa: E402
from demo.app import build_app, launch  # noqa: E402
from demo.serving import GENERIC_ERROR, Batcher, Job, Memo, seeds_from, slug  # noqa: E402
from demo.tabs import Tab  # noqa: E402
from demo_helpers import DATA_URI, LEAK, assert_no_leak  # noqa: E402,F401

SEED_MAX = 2**31 - 1



def test_generate_returns_stage1_and_stage2(served, gallery):
    g1, g2, notice = served.client.predict("a large red star with diagonal stripes", 3, 7, True,
                                           api_name="/generate")
    one, two = gallery(g1), gallery(g2)
    assert [f.caption for f in two] == ["seed 7", "seed 8", "seed 9"] == [f.caption for f in one]
    # downloads are named after the caption and the seed
    stem = "a-large-red-star-with-diagonal-stripes"
    assert [f.filename for f in two] == [f"{stem}_seed-{s}_stage2.png" for s in (7, 8, 9)]
    # nearest-neighbour enlargement: Stage-I's 8x8 smoke sketch becomes whole blocks of equal pixels
    low, res = served.model.resolutions
    s1, s2 = served.model.scales
    assert one[0].image.shape == (low * s1, low * s1, 3) and two[0].image.shape == (res * s2, res * s2, 3)
    block = one[0].image[:s1, :s1]
    assert s1 > 1 and (block == block[0, 0]).all()
    assert notice == ""  # every word is one the model was trained on
    assert_no_leak(g1, g2, notice)


def test_same_seed_same_images(served, gallery):
    a = gallery(served.client.predict("a green circle", 2, 3, True, api_name="/generate")[1])
    b = gallery(served.client.predict("a green circle", 2, 3, True, api_name="/generate")[1])
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    c = gallery(served.client.predict("a green circle", 2, 4, True, api_name="/generate")[1])
    assert np.array_equal(a[1].image, c[0].image)  # seed 4 is seed 4, whichever box it came from


def test_seed_labels_stay_in_range_and_can_be_typed_back(served, gallery):
    g2 = gallery(served.client.predict("a pink ring", 8, SEED_MAX, True, api_name="/generate")[1])
    seeds = [int(f.caption.removeprefix("seed ")) for f in g2]
    assert seeds == [SEED_MAX, 0, 1, 2, 3, 4, 5, 6]
    assert all(0 <= s <= SEED_MAX for s in seeds)
    for i in (0, 2):  # each label, sent back as the seed, gives the same image
        again = gallery(served.client.predict("a pink ring", 1, seeds[i], True, api_name="/generate")[1])
        assert np.abs(again[0].image.astype(int) - g2[i].image.astype(int)).max() <= 1
    assert seeds_from(SEED_MAX - 1, 3) == [SEED_MAX - 1, SEED_MAX, 0]


def test_batched_samples_equal_samples_served_alone(served):
    """Many visitors in one forward pass get what each would get alone."""
    model = served.model
    requests = [("a red star", [5, 6, 7], True), ("a blue ring", [SEED_MAX, 0], False), ("a green heart", [1], True),
                ("a red star", [9, 5], True)]
    alone = [model.samples(c, s, ca) for c, s, ca in requests]
    gate = threading.Barrier(len(requests))
    before = len(model.batcher.passes)

    def together(req):
        gate.wait()
        return model.samples(*req)

    with ThreadPoolExecutor(len(requests)) as pool:
        batched = list(pool.map(together, requests))
    assert max(jobs for jobs, _, _ in list(model.batcher.passes)[before:]) > 1  # they did share a pass
    for a, b in zip(alone, batched):
        for k in a:  # the same up to float rounding (a batch of one may take another conv kernel)
            torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=0)
    torch.testing.assert_close(alone[0]["image"][0], alone[3]["image"][1], atol=1e-5, rtol=0)  # seed 5 twice


def test_batcher_reports_a_failed_pass_to_every_job_and_lives_on(served):
    model = served.model
    boom = Batcher(model.pipe, lambda caps: (_ for _ in ()).throw(RuntimeError("encoder down")))
    with pytest.raises(RuntimeError, match="encoder down"):
        boom.run(Job(["x"], torch.ones(1, 1), model._noise([0], True)))
    boom.encode = model.encode
    assert boom.run(Job(["x"], torch.ones(2, 1), model._noise([0, 1], True)))["image"].shape[0] == 2


def test_ca_sampling_off_uses_the_mean(served):
    model = served.model
    on = model._noise([1, 2], ca_sampling=True)
    off = model._noise([1, 2], ca_sampling=False)
    assert torch.equal(on["z"], off["z"]) and off["eps1"].abs().sum() == 0 and on["eps1"].abs().sum() > 0
    x_on = model.samples("a green circle", [1, 2], True)["image"]
    x_off = model.samples("a green circle", [1, 2], False)["image"]
    assert not torch.equal(x_on, x_off)


def test_interpolate_in_one_row(served, gallery):
    html = served.client.predict("a red square", "a blue circle", 4, 0, api_name="/interpolate")
    figs = gallery(html)
    assert [f.caption for f in figs] == ["β = 0.00", "β = 0.33", "β = 0.67", "β = 1.00"]
    assert "--columns: 4" in html  # one row, however many steps
    assert figs[0].filename == "a-red-square_to_a-blue-circle_seed-0_beta-0.00.png"


@pytest.mark.parametrize("caption, n, seed, ca, message", [
    ("", 2, 0, True, "empty"),
    ("   \n\t ", 2, 0, True, "empty"),
    ("x" * 10_000, 2, 0, True, "10,000 characters"),
    ("a red star", 0, 0, True, "Number of samples|less than minimum"),
    ("a red star", 99, 0, True, "Number of samples|greater than maximum"),
    ("a red star", "lots", 0, True, "Number of samples|number|float|verbose error reporting"),
    ("a red star", 2, -5, True, "Seed|less than minimum"),
    ("a red star", 2, 2**31, True, "Seed|greater than maximum"),
])
def test_bad_inputs_give_clear_errors(served, caption, n, seed, ca, message):
    with pytest.raises(Exception, match=message) as err:
        served.client.predict(caption, n, seed, ca, api_name="/generate")
    assert_no_leak(str(err.value))
    assert served.client.predict("still serving", 1, 0, True, api_name="/generate")[1]


def test_an_unexpected_failure_shows_a_plain_sentence(served, caplog, capfd):
    """Whatever breaks inside (here: a file error naming a server path), the visitor reads one sentence; the
    server's log gets the traceback, once (Gradio prints none of its own)."""
    model = served.model
    real = model.batcher._forward

    def broken(jobs):
        raise FileNotFoundError(2, "No such file or directory", "/tmp/secret-dir/x.png")

    model.batcher._forward = broken
    try:
        with caplog.at_level(logging.INFO, logger="demo"):
            with pytest.raises(Exception) as err:
                served.client.predict("a red star", 2, 0, True, api_name="/generate")
            with pytest.raises(Exception) as err2:
                served.client.predict("a red star", "a blue ring", 3, 0, api_name="/interpolate")
    finally:
        model.batcher._forward = real
    for e in (err.value, err2.value):
        assert GENERIC_ERROR in str(e)
        assert_no_leak(str(e))
    records = [r for r in caplog.records if r.name == "demo"]
    assert [r.levelno for r in records] == [logging.ERROR] * 2 and all(r.exc_info for r in records)
    assert caplog.text.count("Traceback") == 2 and "secret-dir" in caplog.text  # the details: the log's only
    assert "Traceback" not in capfd.readouterr().err
    assert served.client.predict("a red star", 1, 0, True, api_name="/generate")[1]


def test_emoji_and_non_latin_captions_still_generate(served, gallery):
    for text in ["a red ⭐ with 🔵 stripes", "красная звезда", "赤い星"]:
        g1, g2, notice = served.client.predict(text, 1, 0, True, api_name="/generate")
        assert len(gallery(g2)) == 1
        assert_no_leak(g1, g2, notice)
    assert "none of these words" in served.client.predict("赤い星", 1, 0, True, api_name="/generate")[2]


@pytest.mark.parametrize("caption, expect", [
    ("a bird with a red crest", "never say \\*bird, crest\\*"),
    ("hello world", "no word the model was trained on"),
    ("a large red star with blue stripes", "one colour"),
    ("a red circle next to a green square", "one shape"),
    ("a pink ring on a gray background", "^$"),
    ("a plain white arrow on a black background", "^$"),
    # white is an object colour, not a background the data has: say that, not "blue and white will be mixed"
    ("a small blue star on a white background", "only \\*\\*black, gray, beige, navy\\*\\* backgrounds; \\*white\\*"),
    ("a small blue star on a deep navy background", "^$"),
])
def test_notice_for_words_the_model_never_saw(served, caption, expect):
    notice = served.client.predict(caption, 1, 0, True, api_name="/generate")[2]
    assert re.search(expect, notice), notice


def test_file_names_are_safe_slugs():
    assert slug("A red ⭐, with 🔵 stripes!") == "a-red-with-stripes"
    assert slug("赤い星") == "caption"
    assert len(slug("word " * 100)) <= 60


def test_first_view_has_images_without_a_click(served, gallery):
    """The page as served (its config) already holds generated images and real training images."""
    config = httpx.get(served.url + "config").json()
    values = {c["props"].get("elem_id"): c["props"].get("value") for c in config["components"]}
    one, two = gallery(values["stage1-gallery"]), gallery(values["stage2-gallery"])
    assert len(one) == len(two) == 4 and [f.caption for f in two] == ["seed 0", "seed 1", "seed 2", "seed 3"]
    assert all(f.image.std() > 0 for f in two)  # pictures, not blanks
    caption = next(c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == "caption")
    assert two[0].filename.startswith(slug(caption))  # the images are of the caption in the box
    strip = gallery(values["training-strip"])
    assert len(strip) == 8 and all(f.caption for f in strip)
    assert_no_leak(values["stage1-gallery"], values["stage2-gallery"], values["training-strip"])


def test_many_requests_then_a_crowd_all_succeed_and_memory_stays_bounded(served, gallery, _cache_dir):
    """~100 requests one after another, then 16 visitors × 3 requests at once: every one succeeds, they
    share forward passes, and every cache stays within its bound."""
    model, app = served.model, served.app
    files_before = sorted(p for p in Path(served.gradio_temp).rglob("*") if p.is_file())
    text_cache = Path(_cache_dir) / "text"
    text_before = sorted(text_cache.rglob("*")) if text_cache.is_dir() else []
    c = Client(served.url, verbose=False)
    for i in range(100):
        g1, g2, notice = c.predict(f"a {['red', 'blue', 'pink'][i % 3]} shape number {i}", 2, i, i % 2 == 0,
                                   api_name="/generate")
        assert [f.caption for f in gallery(g2)] == [f"seed {i}", f"seed {i + 1}"]
        assert_no_leak(g1, g2, notice)
    passes = len(model.batcher.passes)
    clients = [Client(served.url, verbose=False) for _ in range(16)]
    gate = threading.Barrier(16)

    def visitor(k):
        out = []
        for r in range(3):
            if r == 0:
                gate.wait()
            out.append(clients[k].predict(f"a white cross, visitor {k}", 4, 100 * k + r, True, api_name="/generate"))
        return out

    with ThreadPoolExecutor(16) as pool:
        answers = [a for visitor_answers in pool.map(visitor, range(16)) for a in visitor_answers]
    assert len(answers) == 48
    for k, (g1, g2, notice) in enumerate(answers):
        assert len(gallery(g1)) == len(gallery(g2)) == 4
        assert_no_leak(g1, g2, notice)
    crowd = list(model.batcher.passes)[passes:]
    assert sum(jobs for jobs, _, _ in crowd) == 48 and max(jobs for jobs, _, _ in crowd) > 1  # batched
    # Bounds: no image file is ever written; the embedding memo, the pass log and Gradio's session
    # memory stay within their sizes; the project's on-disk text cache is never touched by visitors.
    assert sorted(p for p in Path(served.gradio_temp).rglob("*") if p.is_file()) == files_before
    assert len(model.encode) <= model.encode.size
    assert len(model.batcher.passes) <= model.batcher.passes.maxlen
    assert len(app.state_holder.session_data) <= app.state_session_capacity == 8
    assert (sorted(text_cache.rglob("*")) if text_cache.is_dir() else []) == text_before


def _length_memo(size: int) -> tuple[Memo, list[list[str]]]:
    """A Memo over a fake encoder (a caption's embedding is its length) and the list of its calls."""
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return torch.tensor([[float(len(t))] for t in texts])

    return Memo(encode, size=size), calls


def test_memo_is_bounded_and_recomputes_what_it_forgot():
    memo, calls = _length_memo(3)
    assert memo(["a", "bb", "a"]).flatten().tolist() == [1, 2, 1]
    memo(["ccc", "dddd", "eeeee"])
    assert len(memo) == 3 and calls == [["a", "bb"], ["ccc", "dddd", "eeeee"]]
    assert memo(["a"]).item() == 1 and calls[-1] == ["a"]  # forgotten, so encoded again


def test_memo_answers_more_captions_than_it_keeps_and_keeps_the_last_used():
    memo, calls = _length_memo(2)
    memo(["a", "bb"])
    assert memo(["a", "ccc", "dddd", "a"]).flatten().tolist() == [1, 3, 4, 1]  # 3 distinct > size 2
    assert calls[-1] == ["ccc", "dddd"] and len(memo) == 2
    memo(["dddd", "a"])
    assert calls[-1] == ["ccc", "dddd"]  # "dddd" and "a" (used last) were kept
    memo(["bb", "ccc"])
    assert calls[-1] == ["bb", "ccc"]


def test_missing_checkpoint_is_reported_not_fatal(tmp_path, free_port, results):
    app = build_app({"stackgan": tmp_path / "nowhere"}, results=results)
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        c = Client(url, verbose=False)
        with pytest.raises(Exception, match="could not be loaded") as err:
            c.predict("a red star", 1, 0, True, api_name="/generate")
        assert "nowhere" not in str(err.value)
        assert_no_leak(str(err.value))
        assert "in short" in c.predict("toypaper", api_name="/results")[0]  # the other tabs still work
    finally:
        app.close()


def test_adding_a_tab_edits_no_list(monkeypatch, checkpoint, results):
    """A tab registered at run time (or a demo/<name>_tab.py module: found by demo.app.tabs) takes the place its
    ``order`` says; the app's header names it among the models."""
    def build(ctx):
        with gr.Tab("Toy GAN"):
            gr.Markdown("Toy GAN is coming", elem_id="toy-tab")

    monkeypatch.setattr(demo_app, "_REGISTERED", [])
    demo_app.register_tab(Tab("Toy GAN", build, model=True, order=25))
    assert [t.title for t in demo_app.tabs()][1:4] == ["SGAN", "Toy GAN", "S²-GAN"]
    app = build_app({"stackgan": checkpoint}, results=results)
    config = app.get_config_file()
    tabs = [c["props"]["label"] for c in config["components"] if c["type"] == "tabitem"]
    assert tabs == ["StackGAN", "SGAN", "Toy GAN", "S²-GAN", "Stacked vs single", "Results", "About"]
    header = next(c["props"]["value"] for c in config["components"] if c["type"] == "markdown")
    assert "Try StackGAN, SGAN, Toy GAN, S²-GAN and Stacked vs single in their tabs" in header


def test_results_tab_reads_like_a_report(served):
    summary, claims, legend, table, plot = served.client.predict("toypaper", api_name="/results")
    assert summary.startswith("### Toy paper (Table 1): in short")
    assert "**1 reproduced, 0 contradicted, 0 inconclusive**" in summary
    assert "b beats a" in summary and "Code: git `abababa with uncommitted changes`" in summary
    assert "abababababab" not in summary  # the commit in short form
    assert "| verdict | claim of the paper | compares | measured by |" in claims and "reproduced" in claims
    assert "Inception score" in legend and "higher is better" in legend
    head, rows = table.splitlines()[2], table.splitlines()[4:]
    assert head.startswith("| row | model (paper's name) | CA | Inception score ↑ | seeds |")  # rows explained
    assert "paper's Inception score" in head
    assert [r.split(" | ")[:3] for r in rows] == [["| `a`", "the baseline", "no"], ["| `b`", "the method", "yes"]]
    assert rows[1].endswith("| 3.70 ± 0.04 |")  # the paper's number beside ours
    assert plot is None  # this toy paper has no plot
    assert_no_leak(summary, claims, legend, table)


def test_the_stackgan_tab_says_its_examples_were_picked_and_how_good_the_model_is(tmp_path):
    import json

    from demo.stackgan_tab import SHOWCASE, quality_line

    data = json.loads(SHOWCASE.read_text())
    shipped = data["scores"]["final"]["test"]
    line = quality_line()
    assert "picked among this model's better results" in line
    assert f"shape in {shipped['cond_acc_shape']:.0%}" in line and "chance 10%, 12.5%, 25%" in line
    assert f"On {data['n']:,} held-out test captions" in line  # the count is the file's too
    other = tmp_path / "scores.json"  # the line follows the file, not prose
    scores = {"scores": {"final": {"test": {"cond_acc_shape": 0.9, "cond_acc_color": 0.5, "cond_acc_texture": 0.25}}}}
    other.write_text(json.dumps({**scores, "n": 2500}))
    line = quality_line(other)
    assert "shape in 90%, colour in 50%, pattern in 25%" in line and "On 2,500 held-out test captions" in line
    other.write_text(json.dumps(scores))  # no count in the file: none in the line
    assert "On held-out test captions" in quality_line(other) and "1,000" not in quality_line(other)
    assert quality_line(tmp_path / "missing.json") == ""
    other.write_text("{not json")
    assert quality_line(other) == ""

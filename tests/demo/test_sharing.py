"""Sharing and accessibility (issue #30): the page's Open Graph tags and preview image, alt text on every
image, an input error that does not leave the last answer's images up, and a server log with one line per
input error (a traceback only for the unexpected)."""
import logging
import re
from html import unescape
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest

from demo import sharing
from demo.results_tab import PLOT_LABEL, plot_alt
from demo.serving import Sample, alt_text, gallery_html, safe
from demo.stackgan_tab import EXAMPLES
from demo_helpers import assert_no_leak
from test_browser import browser  # noqa: F401  (the headless Chromium fixture; skips when not installed)

_META = re.compile(r"<meta\s[^>]*>", re.S)


def _head(html: str) -> str:
    return html.split("</head>", 1)[0]


def _social(html: str) -> list[tuple[str, str]]:
    """(key, content) of every og:/twitter: <meta> in the page's head, in order."""
    out = []
    for tag in _META.findall(_head(html)):
        key = re.search(r'(?:property|name)="([^"]+)"', tag)
        content = re.search(r'content="([^"]*)"', tag)
        if key and key.group(1).startswith(("og:", "twitter:")):
            out.append((key.group(1), unescape(content.group(1)) if content else ""))
    return out


def _alts(html: str) -> list[str]:
    return [unescape(a) for a in re.findall(r'<img [^>]*?alt="([^"]*)"', html)]


# ---------------------------------------------------------------------------------------------- Open Graph
def test_the_page_has_the_demos_open_graph_tags_and_none_of_gradios(served):
    page = httpx.get(served.url)
    assert page.status_code == 200
    tags = _social(page.text)
    keys = [k for k, _ in tags]
    assert len(keys) == len(set(keys)), keys  # one of each: nothing left to contradict ours
    meta = dict(tags)
    root = served.url.rstrip("/")
    assert meta["og:title"] == sharing.TITLE and meta["twitter:title"] == sharing.TITLE
    assert meta["og:description"] == sharing.DESCRIPTION == meta["twitter:description"]
    assert meta["og:url"] == root + "/"
    assert meta["og:image"] == root + sharing.PREVIEW_ROUTE == meta["twitter:image"]  # absolute, as crawlers need
    assert meta["og:image:alt"] and meta["twitter:card"] == "summary_large_image"
    assert (meta["og:image:width"], meta["og:image:height"]) == tuple(map(str, sharing.png_size(
        sharing.PREVIEW.read_bytes())))
    for key, content in tags:  # Gradio's defaults are gone
        assert "Gradio" not in content and "{url}" not in content and "gradio.app" not in content, (key, content)
    assert f"<title>{sharing.TITLE}</title>" in _head(page.text) and _head(page.text).count("<title>") == 1
    assert "gradio_config" in page.text  # the app itself is still there

    image = httpx.get(meta["og:image"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == sharing.PREVIEW.read_bytes()  # the README's screenshot of the demo


def test_the_tags_name_the_public_address(served, monkeypatch):
    """Behind a proxy, its X-Forwarded-* headers; on a Space, https://$SPACE_HOST."""
    page = httpx.get(served.url, headers={"X-Forwarded-Host": "demo.example.org", "X-Forwarded-Proto": "https"})
    meta = dict(_social(page.text))
    assert meta["og:url"] == "https://demo.example.org/"
    assert meta["og:image"] == "https://demo.example.org" + sharing.PREVIEW_ROUTE
    monkeypatch.setenv("SPACE_HOST", "someone-stacked-gans.hf.space")
    meta = dict(_social(httpx.get(served.url).text))
    assert meta["og:image"] == "https://someone-stacked-gans.hf.space" + sharing.PREVIEW_ROUTE
    # a forged Host header is text in an attribute, never markup
    monkeypatch.delenv("SPACE_HOST")
    page = httpx.get(served.url, headers={"X-Forwarded-Host": 'x"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in _head(page.text)


def test_without_the_image_file_the_tags_leave_the_image_out(tmp_path):
    template = ('<html><head><meta charset="utf-8" />\n<meta property="og:title" content="Gradio" />\n'
                '<meta\n\t\tproperty="og:image"\n\t\tcontent="https://x/header.jpg"\n\t/>\n'
                '<meta name="twitter:title" content="Gradio" /><title>old</title></head>'
                '<body><script>window.gradio_config = {"x": "<meta property=\\"og:keep\\">"};</script></body></html>')
    out = sharing.rewrite(template, "http://h", None)
    meta = dict(_social(out))
    assert meta["og:title"] == sharing.TITLE and "og:image" not in meta and meta["twitter:card"] == "summary"
    assert "Gradio" not in _head(out) and "<title>old</title>" not in out
    assert 'og:keep' in out  # only the head is rewritten
    assert sharing.OpenGraph(None, tmp_path / "missing.png").image is None
    assert sharing.OpenGraph(None, Path(__file__)).image is None  # not a PNG


# ------------------------------------------------------------------------------------------------ alt text
def test_every_generated_image_says_what_it_is_and_carries_its_caption(served):
    caption = "a large red star with diagonal stripes"
    g1, g2, _ = served.client.predict(caption, 3, 7, True, api_name="/generate")
    for html, stage in ((g1, "Stage-I"), (g2, "Stage-II")):
        alts = _alts(html)
        assert len(alts) == 3
        for alt, seed in zip(alts, (7, 8, 9)):
            assert stage in alt and f"“{caption}”" in alt and alt.endswith(f"seed {seed}"), alt
    alts = _alts(served.client.predict("a red square", "a blue circle", 3, 0, api_name="/interpolate"))
    assert len(alts) == 3 and all("“a red square”" in a and "“a blue circle”" in a for a in alts)
    assert [a.rsplit(", ", 1)[1] for a in alts] == ["β = 0.00", "β = 0.50", "β = 1.00"]


def test_the_first_view_images_have_alt_text_with_their_captions(served):
    config = httpx.get(served.url + "config").json()
    values = {c["props"].get("elem_id"): c["props"].get("value") for c in config["components"]}
    for gallery in ("stage1-gallery", "stage2-gallery"):
        alts = _alts(values[gallery])
        assert len(alts) == 4 and all(f"“{EXAMPLES[0]}”" in a for a in alts)
    strip = values["training-strip"]
    captions = re.findall(r"<figcaption><span>([^<]*)</span>", strip)
    assert len(captions) == 8 and _alts(strip) == [f"Real training image, captioned: {unescape(c)}" for c in captions]


def test_gallery_alt_text_is_never_empty_and_visitor_text_is_escaped():
    img = np.zeros((4, 4, 3), np.uint8)
    assert alt_text("", "seed 3", "Stage-II: 64×64") == "Stage-II: 64×64, seed 3"
    assert alt_text("Stage-II image of “x”,", "seed 3") == "Stage-II image of “x”, seed 3"
    html = gallery_html("T", [Sample(img, "seed 1", "f.png")], alt='Image of “a <b>"bold"</b>\nstar”,')
    assert _alts(html) == ['Image of “a <b>"bold"</b> star”, seed 1']  # one line, and escaped in the HTML
    assert "<b>" not in html


def test_the_results_plot_has_alt_text_with_its_caption(results, tmp_path):
    import shutil

    folder = tmp_path / "results"
    shutil.copytree(results, folder)
    assert plot_alt(folder, "toypaper") == ""  # no plot, nothing to describe
    (folder / "toypaper" / "ablation.png").write_bytes(sharing.PREVIEW.read_bytes())
    alt = plot_alt(folder, "toypaper")
    assert alt.startswith(PLOT_LABEL) and "Toy paper (Table 1)" in alt and "Inception score ↑" in alt
    assert "one bar per row of the table (a, b)" in alt and "red diamonds" in alt

    from demo.app import build_app

    app = build_app({"stackgan": tmp_path / "none", "sgan": tmp_path, "s2gan": tmp_path, "stacked": tmp_path},
                    results=folder)
    plot = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "results-plot")
    assert plot.alt_text == alt  # the first view's
    # picking a paper sets the alt text of its plot, after the API's answer (which stays the plot's file)
    (then,) = [d for d in app.fns.values() if d.outputs == [plot] and d.trigger_after is not None]
    assert then.fn("toypaper")["alt_text"] == alt and then.fn(None)["alt_text"] == ""


# --------------------------------------------------------------------------------- errors clear the outputs
def test_a_failed_event_blanks_its_galleries(served):
    """Every event of a tab (served by ``safe``) with galleries or notices among its outputs has a follow-up that
    runs when it fails and blanks them; inputs among its outputs (a seed it steps) are left alone."""
    fns = served.app.fns
    followers = {d.trigger_after: d for d in fns.values() if d.trigger_only_on_failure}
    ids = {c._id: getattr(c, "elem_id", None) for c in served.app.blocks.values()}
    covered = 0
    for dep in fns.values():
        if not getattr(dep.fn, "safe", False) or dep.trigger_only_on_failure:
            continue
        shown = [o for o in dep.outputs if isinstance(o, (gr.HTML, gr.Markdown, gr.Image))]
        if not shown:
            continue
        clear = followers.get(dep._id)
        assert clear is not None, (dep.api_name, [ids[o._id] for o in dep.outputs])
        assert clear.outputs == shown and clear.api_visibility == "private"
        blank = clear.fn()
        assert (blank if len(shown) > 1 else [blank]) == ["" if not isinstance(o, gr.Image) else None for o in shown]
        covered += 1
    generate = next(d for d in fns.values() if d.api_name == "generate")
    assert [ids[o._id] for o in followers[generate._id].outputs] == ["stage1-gallery", "stage2-gallery",
                                                                    "caption-notice"]
    step = next(d for d in fns.values() if d.fn is not None and getattr(d.fn, "__wrapped__", None) is not None
                and d.fn.__wrapped__.__name__ == "next_seeds")
    assert all(not isinstance(o, gr.Number) for o in followers[step._id].outputs)  # the seed box keeps its value
    assert covered >= 10  # every model tab's events


def test_an_input_error_in_the_browser_clears_the_old_images(served, browser):
    """A visitor generates, then sends an empty caption: the error shows, and the galleries no longer hold the
    images of the caption before."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    count = "return document.querySelectorAll(arguments[0] + ' figure img').length"
    browser.get(served.url)
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.execute_script(count, "#stage2-gallery") == 4)  # the first view
    box = browser.find_element(By.CSS_SELECTOR, "#caption textarea")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)  # as a visitor empties the box (clear() would not tell the page)
    browser.find_element(By.CSS_SELECTOR, "#generate").click()
    wait.until(lambda d: "The caption is empty" in d.find_element(By.TAG_NAME, "body").text)  # the message shows
    wait.until(lambda d: d.execute_script(count, "#stage1-gallery") == d.execute_script(count, "#stage2-gallery") == 0)
    badges = browser.execute_script("""return [...document.querySelectorAll('#stage1-gallery, #stage2-gallery')]
        .map(g => g.querySelector('[data-testid=status-tracker]').innerText.trim())""")
    assert badges == ["", ""]  # no "Error" badge over the (now empty) galleries: the message says it all
    assert_no_leak(browser.find_element(By.TAG_NAME, "body").text)
    box.send_keys("a pink ring on a gray background")  # and the next good caption answers as usual
    browser.find_element(By.CSS_SELECTOR, "#generate").click()
    wait.until(lambda d: d.execute_script(count, "#stage2-gallery") == 4)


# --------------------------------------------------------------------------------------------- the log
def test_an_input_error_is_one_line_in_the_log(served, caplog, capfd):
    with caplog.at_level(logging.INFO, logger="demo"):
        with pytest.raises(Exception, match="empty"):
            served.client.predict("   ", 2, 0, True, api_name="/generate")
    records = [r for r in caplog.records if r.name == "demo"]
    assert len(records) == 1, [r.getMessage() for r in records]
    r = records[0]
    assert r.levelno == logging.INFO and r.exc_info is None
    assert r.getMessage().startswith("input error in StackGANDemo.generate: The caption is empty")
    assert "\n" not in r.getMessage() and "Traceback" not in caplog.text
    assert "Traceback" not in capfd.readouterr().err  # nor does Gradio print one of its own
    # an unexpected error keeps its traceback: tests/demo/test_app.py::test_an_unexpected_failure_shows_a_plain_sentence


@pytest.mark.parametrize("n, seed, source, message", [
    (2, -5, "Seed", "Value -5 is less than minimum value 0."),  # Gradio's own check, before the handler
    (99, 0, "Samples", "Value 99 is greater than maximum value 8."),
])
def test_gradios_own_input_checks_are_one_line_too(served, caplog, capfd, n, seed, source, message):
    with caplog.at_level(logging.INFO, logger="demo"):
        with pytest.raises(Exception, match=message):
            served.client.predict("a red star", n, seed, True, api_name="/generate")
    assert [r.getMessage() for r in caplog.records if r.name == "demo"] == [f"input error in {source}: {message}"]
    assert "Traceback" not in capfd.readouterr().err


def test_safe_logs_input_errors_on_one_line(caplog):
    def bad(x):
        raise gr.Error(f"Seed must be a whole number; got {x!r}.")

    with caplog.at_level(logging.INFO, logger="demo"), pytest.raises(gr.Error) as err:
        safe(bad)("1\n2" + "9" * 1000)
    assert err.value.print_exception is False
    (r,) = caplog.records
    assert r.getMessage().startswith("input error in test_safe_logs_input_errors_on_one_line.<locals>.bad: Seed")
    assert "\n" not in r.getMessage() and len(r.getMessage()) < 400

"""A real browser (headless Chromium from Debian, driven by Selenium) uses the demo as shipped (the
committed StackGAN checkpoint and results/): at 1366 px it finds images before any click, types a
caption, generates, downloads an image and reads the Results tab; at 390 px (a phone) it generates
eight samples and checks that every one of them is on screen, finds an image in the first screen, every tab's
button on screen, each model tab's line on how good its models are (with the committed files' numbers), the
other tabs' images arriving as their tab opens, and the Results tab's sample sheets. The desktop screenshot it takes is the
README's: ``DEMO_SCREENSHOT=docs/demo.png pytest tests/demo/test_browser.py`` rewrites it (by default
it goes to a temp folder).

Skipped when Chromium is not installed, unless REQUIRE_BROWSER=1 (CI sets it, after installing
chromium and chromium-driver), in which case a missing browser fails the test.
"""
import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest

from demo.app import build_app, launch
from demo.results_tab import PLOT_LABEL
from demo.serving import slug

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DESKTOP, PHONE = (1366, 960), (390, 844)


@pytest.fixture
def browser(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("chromium / chromedriver not found (apt-get install chromium chromium-driver)")
        pytest.skip("chromium / chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--hide-scrollbars", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads"),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def _viewport(driver, width, height):
    """Make the page's viewport ``width`` × ``height`` CSS pixels (as a phone of that width shows it)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def _images(driver, gallery):
    """Each image of a gallery: its file name, box in the viewport, and whether it is the element on top there."""
    return driver.execute_script("""
        return [...document.querySelectorAll(arguments[0] + ' figure')].map(f => {
          const img = f.querySelector('img');
          img.scrollIntoView({block: 'center'});
          const r = img.getBoundingClientRect();
          const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return {name: f.querySelector('a.save').getAttribute('download'), left: r.left, right: r.right,
                  width: r.width, height: r.height, top: r.top, bottom: r.bottom, onTop: top === img,
                  loaded: img.complete && img.naturalWidth > 0, vw: document.documentElement.clientWidth};
        });""", gallery)


def _generate(driver, wait, caption, samples=None):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.CSS_SELECTOR, "#caption textarea")
    box.clear()
    box.send_keys(caption)
    if samples is not None:
        number = driver.find_element(By.CSS_SELECTOR, "#samples input[type=number]")
        number.send_keys(Keys.CONTROL, "a")
        number.send_keys(str(samples), Keys.TAB)
    driver.find_element(By.CSS_SELECTOR, "#generate").click()
    want = slug(caption)
    wait.until(lambda d: all(len(_names(d, g)) >= (samples or 4) and all(n.startswith(want) for n in _names(d, g))
                             for g in ("#stage1-gallery", "#stage2-gallery")))


def _tab(driver, title):
    """The tab button called ``title``; on a narrow screen Gradio puts the tabs that do not fit under a
    "More tabs" button, which a visitor opens first, and so does this."""
    from selenium.webdriver.common.by import By

    def shown(selector):
        return next((b for b in driver.find_elements(By.CSS_SELECTOR, selector)
                     if b.is_displayed() and b.text.strip() == title), None)

    button = shown("button[role=tab]")
    if button is None:
        driver.find_element(By.CSS_SELECTOR, "button[aria-label='More tabs']").click()
        button = shown("button")  # the menu's entries are plain buttons
    return button


def _names(driver, gallery):
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' a.save')].map(a => a.getAttribute('download'))",
        gallery)


def test_browser_desktop_and_phone(browser, free_port, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    app = build_app()
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#generate")))

        # First view: generated images and real training images are there before any click.
        wait.until(lambda d: len(_images(d, "#stage2-gallery")) == 4)
        for g in ("#stage1-gallery", "#stage2-gallery", "#training-strip"):
            assert all(i["loaded"] and i["width"] > 40 for i in _images(browser, g)), g

        # An example generates on click (and fills the caption box).
        example = "a striped red ring on a black background"
        next(e for e in browser.find_elements(By.CSS_SELECTOR, "#examples button") if e.text.strip() == example).click()
        wait.until(lambda d: len(_names(d, "#stage2-gallery")) == 4
                   and all(n.startswith(slug(example)) for n in _names(d, "#stage2-gallery")))
        assert browser.find_element(By.CSS_SELECTOR, "#caption textarea").get_attribute("value") == example

        # Desktop: generate; Stage-I and Stage-II side by side; the README screenshot.
        _generate(browser, wait, "a plain green triangle on a black background")
        one, two = _images(browser, "#stage1-gallery"), _images(browser, "#stage2-gallery")
        assert all(i["loaded"] for i in one + two)
        assert one[-1]["right"] < two[0]["left"]  # side by side
        assert [i["name"] for i in two][:2] == ["a-plain-green-triangle-on-a-black-background_seed-0_stage2.png",
                                               "a-plain-green-triangle-on-a-black-background_seed-1_stage2.png"]
        browser.execute_script("window.scrollTo(0, 0)")
        shot = Path(os.environ.get("DEMO_SCREENSHOT", tmp_path / "demo.png"))
        shot.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000

        # A download gets the image under its caption-and-seed name.
        link = browser.find_element(By.CSS_SELECTOR, "#stage2-gallery a.save")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
        link.click()
        assert link.get_attribute("href").startswith("data:image/png;base64,")
        target = tmp_path / "downloads" / "a-plain-green-triangle-on-a-black-background_seed-0_stage2.png"
        deadline = time.time() + 20
        while not target.is_file() and time.time() < deadline:
            time.sleep(0.2)
        assert target.is_file() and target.read_bytes()[:4] == b"\x89PNG"

        # Results tab: the summary first, the table fits the page, the plot shows.
        _tab(browser, "Results").click()
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#results-summary").is_displayed())
        assert "in short" in browser.find_element(By.CSS_SELECTOR, "#results-summary").text
        fit = browser.execute_script("""
            const t = document.querySelector('#results-table table');
            const box = document.querySelector('#results-table');
            return [t.getBoundingClientRect().right, box.getBoundingClientRect().right,
                    document.documentElement.clientWidth];""")
        assert fit[0] <= fit[1] + 1 and fit[0] <= fit[2], fit  # the last (paper) column is on the page
        plot = browser.find_element(By.CSS_SELECTOR, "#results-plot img")
        # the image loads lazily: a reader scrolls to it (with two papers the dropdown puts it below the fold)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", plot)
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalHeight > 0", plot))
        assert plot.size["height"] > 300 and plot.size["width"] > 600
        assert plot.get_attribute("alt").startswith(PLOT_LABEL + ". Bar charts of ")  # read aloud, not skipped
        _tab(browser, "StackGAN").click()

        # Phone, 390 px: eight samples; the galleries stack and every sample is on screen, readable.
        _viewport(browser, *PHONE)
        time.sleep(0.5)
        _generate(browser, wait, "a pink ring on a gray background", samples=8)
        one, two = _images(browser, "#stage1-gallery"), _images(browser, "#stage2-gallery")
        assert len(one) == len(two) == 8
        for i in one + two:
            assert i["loaded"] and i["onTop"], i
            assert 0 <= i["left"] and i["right"] <= i["vw"] and i["width"] >= 48, i
        page = browser.execute_script("""
            const r = id => document.querySelector(id).getBoundingClientRect();
            window.scrollTo(0, 0);
            return [r('#stage1-gallery').bottom, r('#stage2-gallery').top,
                    document.documentElement.scrollWidth, document.documentElement.clientWidth];""")
        assert page[0] <= page[1]  # stacked
        assert page[2] <= page[3]  # nothing wider than the phone
        browser.save_screenshot(str(tmp_path / "phone.png"))
    finally:
        app.close()


@contextlib.contextmanager
def _phone_app(browser, free_port):
    """The demo served with the shipped models and opened at phone size; yields a 60-s WebDriverWait, and closes
    the app afterwards."""
    from selenium.webdriver.support.ui import WebDriverWait

    app = build_app()
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        _viewport(browser, *PHONE)
        browser.get(url)
        yield WebDriverWait(browser, 60)
    finally:
        app.close()


def test_browser_model_tabs_on_a_phone(browser, free_port, tmp_path):
    """The S²-GAN tab with the shipped models, at 390 px: its three strips show before any click, every image
    loaded, at least 64 px wide and within the screen; "Next image" then renders the next real structure. The
    SGAN tab's eight-image strips and the stacked study's galleries, the same."""
    from selenium.webdriver.common.by import By

    with _phone_app(browser, free_port) as wait:
        wait.until(lambda d: any(b.text.strip() == "S²-GAN" for b in d.find_elements(By.CSS_SELECTOR,
                                                                                   "button[role=tab]")))
        _tab(browser, "S²-GAN").click()
        strips = ("#s2gan-grid", "#s2gan-restyle-strip", "#s2gan-real-strip")
        wait.until(lambda d: all(len(_names(d, s)) >= 8 for s in strips))
        for s in strips:
            for i in _images(browser, s):
                assert i["loaded"] and i["onTop"], (s, i)
                assert 0 <= i["left"] and i["right"] <= i["vw"] and i["width"] >= 64, (s, i)
        assert _names(browser, "#s2gan-real-strip")[0] == "shapes_test-0.png"
        assert "How good are these models?" in browser.find_element(By.TAG_NAME, "body").text
        button = browser.find_element(By.CSS_SELECTOR, "#s2gan-next-real")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        wait.until(lambda d: (_names(d, "#s2gan-real-strip") or [""])[0] == "shapes_test-1.png")
        width = browser.execute_script("return [document.documentElement.scrollWidth, "
                                       "document.documentElement.clientWidth]")
        assert width[0] <= width[1]  # nothing wider than the phone
        browser.save_screenshot(str(tmp_path / "s2gan-phone.png"))

        # The SGAN tab's eight-image strips (first view: the first dataset's first class) are readable there too.
        _tab(browser, "SGAN").click()
        for s in ("#sgan-grid", "#sgan-full-strip", "#sgan-noent-strip"):
            wait.until(lambda d, s=s: len(_names(d, s)) == 8)
            for i in _images(browser, s):
                assert i["loaded"] and i["onTop"] and i["right"] <= i["vw"] and i["width"] >= 64, (s, i)

        # The stacked study's tab: the first model (the first healthy one, conv single: no Stage-I) and the
        # comparison of its three modes (single 8 images; each stack 8 Stage-I + 8 Stage-II).
        _tab(browser, "Stacked vs single").click()
        for s, n in (("#stacked-final", 8), ("#stacked-compare", 40)):
            wait.until(lambda d, s=s, n=n: len(_names(d, s)) == n)
            for i in _images(browser, s):
                assert i["loaded"] and i["onTop"] and i["right"] <= i["vw"] and i["width"] >= 64, (s, i)


RESULTS = Path(__file__).resolve().parents[2] / "results"


def _quality_expected() -> dict[str, list[str]]:
    """Per tab, what its quality line must say, read here from the committed files on their own: the start of
    every model tab's line, and each failed gate's numbers of the shipped models' rows (health.csv); StackGAN's
    shape accuracy (its showcase scores.json)."""
    import json

    from demo_helpers import failing_gates

    showcase = json.loads((RESULTS / "stackgan" / "showcase" / "scores.json").read_text())["scores"]["final"]["test"]
    return {"StackGAN": ["picked among this model's better results", f"shape in {showcase['cond_acc_shape']:.0%}"],
            "SGAN": ["How good are these models?", *failing_gates(RESULTS / "sgan-shapes", "sgan")],
            "S²-GAN": ["How good are these models?", "row stack-joint",
                       *failing_gates(RESULTS / "s2gan", "stack-joint")],
            "Stacked vs single": ["How good are these models?", *failing_gates(RESULTS / "stacked", "single-dense")]}


QUALITY_IDS = {"StackGAN": "#stackgan-quality", "SGAN": "#sgan-quality", "S²-GAN": "#s2gan-quality",
               "Stacked vs single": "#stacked-quality"}
FIRST_IMAGES = {"SGAN": "#sgan-grid", "S²-GAN": "#s2gan-grid", "Stacked vs single": "#stacked-final"}


def _box(driver, selector):
    return driver.execute_script("""
        const e = document.querySelector(arguments[0]);
        if (!e) return null;
        const r = e.getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, text: e.innerText,
                shown: r.width > 0 && r.height > 0, loaded: e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0),
                alt: e.getAttribute('alt'), lazy: e.getAttribute('loading'), scrollY: window.scrollY,
                vw: document.documentElement.clientWidth, vh: window.innerHeight};""", selector)


def _phone_first_view(browser, wait):
    """At 390 × 844, before any scroll or click: a StackGAN image whole in the first screen, and every tab's
    button on screen (no "More tabs" menu)."""
    from selenium.webdriver.common.by import By

    wait.until(lambda d: (_box(d, "#stage1-gallery img") or {}).get("loaded"))
    first = _box(browser, "#stage1-gallery img")
    assert first["scrollY"] == 0 and 0 <= first["top"] and first["bottom"] <= PHONE[1], first
    print(f"first image at 390 px: top {first['top']:.0f} px, bottom {first['bottom']:.0f} px")
    buttons = [b for b in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]") if b.is_displayed()]
    titles = [b.text.strip() for b in buttons]
    assert titles == ["StackGAN", "SGAN", "S²-GAN", "Stacked vs single", "Results", "About"], titles
    for b in buttons:
        r = b.rect
        assert r["x"] >= 0 and r["x"] + r["width"] <= PHONE[0] and r["y"] + r["height"] <= PHONE[1], (b.text, r)
    assert not [b for b in browser.find_elements(By.CSS_SELECTOR, "button[aria-label='More tabs']")
                if b.is_displayed()]  # nothing hides behind a menu
    return buttons


@pytest.mark.slow
def test_browser_phone_first_view_every_tab_and_its_quality_line(browser, free_port):
    """Issue #30, at 390 × 844 with the shipped models: an image in the first screen of the StackGAN tab; every
    tab's button on screen and each tab reachable with one tap; each model tab's line on how good its models are,
    with the numbers of the committed results files; the other tabs' images arriving when the tab opens; the
    Results tab's sample sheets small, lazy and described; and after an example far down the page is tapped, its
    images are brought into view."""
    from selenium.webdriver.common.by import By

    expected = _quality_expected()
    with _phone_app(browser, free_port) as wait:
        buttons = {b.text.strip(): b for b in _phone_first_view(browser, wait)}
        for title, button in buttons.items():
            browser.execute_script("window.scrollTo(0, 0)")
            button.click()
            if title in FIRST_IMAGES:  # its images come as it opens
                wait.until(lambda d, t=title: len(_names(d, FIRST_IMAGES[t])) >= 8)
            if title in QUALITY_IDS:
                line = _box(browser, QUALITY_IDS[title])
                assert line and line["shown"] and line["right"] <= line["vw"], (title, line)
                for want in expected[title]:
                    assert want in line["text"].replace("`", ""), (title, want, line["text"][:300])
            if title == "Results":
                wait.until(lambda d: (_box(d, "#results-summary") or {}).get("shown"))
                sheet = browser.find_element(By.CSS_SELECTOR, "#results-sheets img")
                browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", sheet)
                wait.until(lambda d: (_box(d, "#results-sheets img") or {}).get("loaded"))
                box = _box(browser, "#results-sheets img")
                assert box["lazy"] == "lazy" and box["alt"].startswith("Sample sheet of row ")
                assert 0 <= box["left"] and box["right"] <= box["vw"] and box["width"] >= 0.8 * box["vw"] - 40, box
            if title == "About":
                assert "health checks" in browser.find_element(By.TAG_NAME, "body").text
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]

        # An example far below the images, tapped: the new images are brought into view.
        buttons["StackGAN"].click()
        example = "a plain green triangle on a black background"
        entry = next(e for e in browser.find_elements(By.CSS_SELECTOR, "#examples button") if e.text.strip() == example)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", entry)
        entry.click()
        wait.until(lambda d: (_names(d, "#stage2-gallery") or [""])[0].startswith(slug(example)))
        time.sleep(1.5)  # the smooth scroll
        one, two = _box(browser, "#stage1-gallery"), _box(browser, "#stage2-gallery")
        assert -1 <= one["top"] < PHONE[1] and two["top"] < PHONE[1], (one, two)


def _regenerated(results: Path, out: Path) -> Path:
    """A copy of ``results``' tables as the next ``--report-only`` and ``bench.index`` leave them: each with its
    ``table.json`` (bench.describe, from the table file and the cells' dataset and preset) and the index's two
    forest plots (wide, and for a phone)."""
    import pandas as pd

    from bench.cells import get_table, tables
    from bench.describe import write_description
    from bench.index import write_index

    for folder in sorted(p.parent for p in results.glob("*/verdicts.csv")):
        (out / folder.name).mkdir(parents=True)
        for f in ("verdicts.csv", "ablation.csv", "runs.csv", "report.md", "ablation.png"):
            if (folder / f).is_file():
                shutil.copyfile(folder / f, out / folder.name / f)
        runs = pd.read_csv(folder / "runs.csv")
        paper = next(p for p in sorted(tables(), key=len, reverse=True) if folder.name.startswith(p))
        write_description(get_table(paper), str(runs["preset"].iloc[0]), str(runs["dataset"].iloc[0]),
                          out / folder.name)
    write_index(out)
    return out


def _results_page(driver) -> dict:
    """What a reader of the Results tab sees: its text, the forest plot shown (the wide or the phone one, whichever
    is displayed) and its box, and the page's widths."""
    return driver.execute_script("""
        const shown = [...document.querySelectorAll('#results-forest img, #results-forest-phone img')]
          .filter(i => i.getBoundingClientRect().width > 0);
        const img = shown[0];
        if (img) img.scrollIntoView({block: 'center'});
        const r = img ? img.getBoundingClientRect() : null;
        return {text: document.body.innerText, shown: shown.map(i => i.closest('[id]').id),
                img: r && {left: r.left, right: r.right, width: r.width, height: r.height,
                           loaded: img.complete && img.naturalWidth > 0, alt: img.alt},
                sw: document.documentElement.scrollWidth, iw: window.innerWidth};""")


@pytest.mark.slow
@pytest.mark.parametrize("which", ["shipped", "regenerated"])
def test_browser_results_index_desktop_and_phone(browser, free_port, tmp_path, which):
    """The Results tab of the app, at 1366 px and at 390 px: the forest plot is on the page (on a phone the tall
    variant when bench.index wrote one), one claim of each paper is there in words, and at 390 px nothing makes
    the page scroll sideways. ``shipped``: the committed results/ as they are; ``regenerated``: a copy of them as
    the next --report-only and bench.index write them (with table.json and forest-phone.png)."""
    import pandas as pd
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shipped = Path(__file__).resolve().parents[2] / "results"
    results = shipped if which == "shipped" else _regenerated(shipped, tmp_path / "results")
    claims = {f.parent.name: pd.read_csv(f)["text"].iloc[0] for f in results.glob("*/verdicts.csv")}
    assert len(claims) >= 5, claims  # stackgan, sgan, sgan-shapes, s2gan, stacked
    phone_plot = (results / "forest-phone.png").is_file()
    nowhere = tmp_path / "no-models"  # the model tabs say so; the Results tab is the one under test
    app = build_app({"stackgan": nowhere, "sgan": nowhere, "s2gan": nowhere, "stacked": nowhere}, results=results)
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        for width, height in (DESKTOP, PHONE):
            _viewport(browser, width, height)
            browser.get(url)
            wait = WebDriverWait(browser, 60)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "button[role=tab]"))
            _tab(browser, "Results").click()
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#results-summary").is_displayed())
            wait.until(lambda d: (_results_page(d)["img"] or {}).get("loaded"))
            page = _results_page(browser)
            assert len(page["shown"]) == 1, page["shown"]  # one forest plot at a time
            want = "results-forest-phone" if width < 600 and phone_plot else "results-forest"
            assert page["shown"] == [want], (width, page["shown"])
            img = page["img"]
            assert img["alt"].startswith("Forest plot of every claim") and img["left"] >= 0
            assert img["right"] <= page["iw"] and img["width"] >= 0.8 * min(page["iw"], 1000), (width, img)
            for paper, text in claims.items():
                assert text in page["text"], (width, paper, text)
            if width < 600:
                assert page["sw"] <= page["iw"], page  # no horizontal scroll on a phone
            browser.save_screenshot(str(tmp_path / f"results-{which}-{width}.png"))
    finally:
        app.close()

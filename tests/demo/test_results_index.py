"""The Results tab's index of every claim (issue #29): above the papers, the verdict counts of each table
(read from its ``verdicts.csv``) and the forest plot (``results/forest.png``, ``python -m bench.index``) with
alt text saying what it draws; what is missing is left out, not an error; at 390 px the plot fits the page."""
import json
import shutil
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest
from PIL import Image

from demo.app import CSS
from demo.results_tab import FOREST_LABEL, all_claims, build, overview, verdict_counts
from demo.tabs import Context
from test_browser import PHONE, _viewport, browser  # noqa: F401 (browser: the fixture, for the phone check)

ROOT = Path(__file__).resolve().parents[2]


def _verdicts(folder: Path, verdicts: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{"claim": f"c{i}", "text": f"claim {i}", "metric": "fid", "sesoi": 2.0, "effect": 1.0,
                   "ci_low": 0.0, "ci_high": 2.0, "n": 3, "verdict": v} for i, v in enumerate(verdicts)]
                 ).to_csv(folder / "verdicts.csv", index=False)


@pytest.fixture
def toy(tmp_path):
    """Two tables with verdicts (one a known paper, listed first), a folder without, a broken one, a plot."""
    _verdicts(tmp_path / "zeta", ["inconclusive", "reproduced", "inconclusive"])
    _verdicts(tmp_path / "stackgan", ["contradicted", "not testable"])
    (tmp_path / "empty").mkdir()  # no verdicts.csv: not a table
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "verdicts.csv").write_text("claim,text\nc,no verdict column\n")
    Image.new("RGB", (99, 120), "white").save(tmp_path / "forest.png")
    return tmp_path


def _components(results: Path) -> dict[str, dict]:
    """The Results tab built alone on ``results``: its components' props by elem_id."""
    with gr.Blocks() as app:
        build(Context(checkpoints={}, results=results))
    config = app.get_config_file()
    return {c["props"]["elem_id"]: c["props"] for c in config["components"] if c.get("props", {}).get("elem_id")}


def test_the_counts_are_each_tables_verdicts(toy):
    counts = verdict_counts(all_claims(toy))
    assert list(counts.columns) == ["table", "claims", "reproduced", "contradicted", "inconclusive", "not testable"]
    assert counts.values.tolist() == [["`stackgan`", 2, 0, 1, 0, 1], ["`zeta`", 3, 1, 0, 2, 0],
                                      ["**all**", 5, 1, 1, 2, 1]]


def test_the_tab_shows_the_counts_and_the_forest_plot_with_its_alt_text(toy):
    props = _components(toy)
    index = props["results-index"]
    assert index["visible"] is not False
    text = index["value"]
    assert text.startswith("### Every claim of every paper") and "(5 claims)" in text
    assert "| `stackgan` | 2 | 0 | 1 | 0 | 1 |" in text and "| `zeta` | 3 | 1 | 0 | 2 | 0 |" in text
    assert "| **all** | 5 | 1 | 1 | 2 | 1 |" in text and "broken" not in text and "empty" not in text
    forest = props["results-forest"]
    assert forest["visible"] is not False and forest["label"] == FOREST_LABEL
    assert json.dumps(forest["value"]).count("forest.png") >= 1  # the file is the plot shown
    alt = forest["alt_text"]
    for words in ("Forest plot of every claim", "divided by its SESOI", "95% interval", "coloured by verdict",
                  "a solid line at 0 and dashed lines at −1 and +1 SESOI",
                  "5 claims from 2 tables: 1 reproduced, 1 contradicted, 2 inconclusive, 1 not testable."):
        assert words in alt, (words, alt)


def test_missing_files_leave_their_part_out_without_an_error(toy):
    (toy / "forest.png").unlink()  # counts, no plot
    text, plot, alt = overview(toy)
    assert "| **all** | 5 |" in text and plot is None and alt == ""
    assert "The plot below" not in text
    assert _components(toy)["results-forest"]["visible"] is False
    for f in toy.glob("*/verdicts.csv"):  # nothing at all: no section
        f.unlink()
    assert overview(toy) == ("", None, "")
    props = _components(toy)
    assert props["results-index"]["visible"] is False and props["results-forest"]["visible"] is False
    assert overview(toy / "nowhere") == ("", None, "")
    Image.new("RGB", (10, 10)).save(toy / "forest.png")  # a plot, no verdicts: the plot and its reading only
    text, plot, alt = overview(toy)
    assert "Verdicts per table" not in text and plot.endswith("forest.png") and alt.startswith("Forest plot")


def test_the_shipped_index_matches_the_committed_verdicts():
    """The repository's results/: the counts' last line is results/README.md's (bench.index) total."""
    counts = verdict_counts(all_claims(ROOT / "results"))
    readme = (ROOT / "results" / "README.md").read_text()
    assert f"| **all** | **{counts.iloc[-1]['claims']}** |" in readme
    for row in counts.iloc[:-1].itertuples():
        assert f"| {row.table} | {row.claims} |" in readme, row.table
    text, plot, alt = overview(ROOT / "results")
    assert plot == str(ROOT / "results" / "forest.png") and "Forest plot" in alt


@pytest.mark.slow
def test_the_index_fits_a_phone(browser, tmp_path, free_port):
    """At 390 px the page is no wider than the phone, the counts stay in their box (scrolling there if they
    must) and the forest plot, the committed one, is on the page at nearly its width, alt text on its <img>."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    results = tmp_path / "results"
    for t in ("stackgan", "sgan", "sgan-shapes", "s2gan", "stacked"):
        _verdicts(results / t, ["reproduced", "contradicted", "absent", "inconclusive", "not testable"])
    shutil.copyfile(ROOT / "results" / "forest.png", results / "forest.png")
    with gr.Blocks() as app:
        build(Context(checkpoints={}, results=results))
    _, url, _ = app.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True, css=CSS)
    try:
        _viewport(browser, *PHONE)
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        img = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#results-forest img"))
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", img)
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalHeight > 0", img))
        box = browser.execute_script("""
            const r = s => document.querySelector(s).getBoundingClientRect();
            return {img: r('#results-forest img'), index: r('#results-index'),
                    vw: document.documentElement.clientWidth, sw: document.documentElement.scrollWidth};""")
        assert box["sw"] <= box["vw"], box  # nothing wider than the phone
        assert 0 <= box["img"]["left"] and box["img"]["right"] <= box["vw"], box
        assert box["img"]["width"] >= 0.8 * box["vw"], box  # the plot takes the page's width
        assert box["index"]["right"] <= box["vw"], box
        assert img.get_attribute("alt").startswith("Forest plot of every claim")
        browser.save_screenshot(str(tmp_path / "phone.png"))
    finally:
        app.close()


def test_the_results_tab_names_no_paper():
    """Issue #29: demo/results_tab.py holds no per-paper names or words; they come from each table's table.json,
    which the bench writes from the table's own file. Every word of its source is checked against the names of the
    tables (and the words those tables declare for the tab)."""
    import re

    from bench.cells import tables

    found = tables()
    names = set(found) | {f"{p}-{d}" for p in found for d in ("shapes", "mnist5k")}
    names |= {w for t in found.values() for w in (t.paper_data,) if w}  # "CUB birds", "CIFAR-10"
    source = (ROOT / "demo" / "results_tab.py").read_text()
    words = set(re.findall(r"[\w²-]+", source))
    assert not {n for n in names if n in words or (" " in n and n in source)}, names & words

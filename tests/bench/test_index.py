"""The results index (python -m bench.index): tables found by their verdicts.csv, effects in SESOI units."""
import pandas as pd
import pytest

from bench.index import collect, main


def _verdicts(folder, lines):
    folder.mkdir(parents=True)
    pd.DataFrame(lines).to_csv(folder / "verdicts.csv", index=False)


def test_every_claim_of_every_table_is_indexed_and_scaled_by_its_sesoi(tmp_path):
    base = {"better": "a", "worse": "b", "rival": "b", "n": 4, "why": "x | y"}
    _verdicts(tmp_path / "toy", [
        {**base, "claim": "big", "text": "A beats B", "metric": "fid", "sesoi": 2.0, "effect": 6.0, "ci_low": 4.0,
         "ci_high": 8.0, "verdict": "reproduced"},
        {**base, "claim": "none", "text": "A matches B", "metric": "fid", "sesoi": 2.0, "effect": 0.2,
         "ci_low": -0.5, "ci_high": 0.9, "verdict": "absent"}])
    _verdicts(tmp_path / "other", [{**base, "claim": "c", "text": "C helps", "metric": "cond_acc", "sesoi": 0.03,
                                    "effect": -0.06, "ci_low": -0.09, "ci_high": -0.03, "verdict": "contradicted"}])
    (tmp_path / "empty").mkdir()  # a folder without verdicts is not a table
    claims = collect(tmp_path)
    assert set(claims["table"]) == {"toy", "other"} and len(claims) == 3
    big = claims.set_index("claim").loc["big"]
    assert (big["scaled_effect"], big["scaled_ci_low"], big["scaled_ci_high"]) == (3.0, 2.0, 4.0)
    assert claims.set_index("claim").loc["c", "scaled_effect"] == pytest.approx(-2.0)
    assert main(["--results", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "| `toy` | 2 | 1 | 0 | 1 | 0 | 0 |" in text and "| **all** | **3** |" in text
    assert "C helps" in text and "**contradicted**" in text and "x \\| y" in text  # a | in a reason stays in its cell
    assert (tmp_path / "forest.png").stat().st_size > 10_000
    assert "other/report.html" in (tmp_path / "index.html").read_text()


def test_each_tables_description_gives_its_title_order_and_what_it_holds_equal(tmp_path):
    """bench.index reads table.json (bench.describe), not a list of papers: titles, order, holds_equal."""
    import json

    base = {"better": "a", "worse": "b", "rival": "b", "n": 4, "why": "w", "metric": "fid", "sesoi": 2.0,
            "effect": 1.0, "ci_low": 0.0, "ci_high": 2.0, "verdict": "inconclusive"}
    _verdicts(tmp_path / "zz-first", [{**base, "claim": "c1", "text": "Z helps"}])
    _verdicts(tmp_path / "aa-second", [{**base, "claim": "c2", "text": "A helps"}])
    (tmp_path / "zz-first" / "table.json").write_text(json.dumps({
        "title": "The Z paper", "order": 1, "claims": [{"id": "c1", "holds_equal": "steps and data"}]}))
    claims = collect(tmp_path)
    assert list(claims["table"]) == ["zz-first", "aa-second"]  # declared order first, then by name
    assert list(claims["title"]) == ["The Z paper", "aa-second"]  # without a table.json: the folder's name
    assert list(claims["holds_equal"]) == ["steps and data", ""]
    assert main(["--results", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "| `zz-first` | 1 |" in text and "[The Z paper](zz-first/report.md)" in text
    assert "*Held equal:* steps and data." in text


def test_the_phone_plot_is_legible_at_390_px(tmp_path):
    """forest-phone.png: every text at least 9 px when the plot is shown 390 px wide (a phone's page), each label
    on a line of its own above its interval; index.html shows it on a narrow screen."""
    import matplotlib.text
    from PIL import Image

    from bench.index import PHONE, PHONE_WIDTH_IN, phone_figure

    base = {"better": "a", "worse": "b", "rival": "b", "n": 4, "why": "w", "metric": "fid", "sesoi": 2.0,
            "effect": 1.0, "ci_low": 0.0, "ci_high": 30.0, "verdict": "reproduced"}
    _verdicts(tmp_path / "stackgan", [{**base, "claim": f"a-rather-long-claim-id-{i}", "text": "t"} for i in range(40)])
    claims = collect(tmp_path)
    fig = phone_figure(claims)
    width_in = fig.get_size_inches()[0]
    assert width_in == PHONE_WIDTH_IN
    px_per_pt = 390 / (72 * width_in)  # the figure scaled to 390 px
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]
    assert len([t for t in texts if "a-rather-long-claim-id" in t.get_text()]) == 40
    small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() * px_per_pt < 9]
    assert not small, small
    fig.canvas.draw()  # every label inside the figure: nothing cut off at the right edge
    right = max(t.get_window_extent().x1 for t in texts) / fig.dpi
    assert right <= width_in, right
    assert main(["--results", str(tmp_path)]) == 0
    w, h = Image.open(tmp_path / PHONE).size
    assert h > 4 * w  # tall and narrow: one band per claim
    html = (tmp_path / "index.html").read_text()
    assert f'<source media="(max-width: 640px)" srcset="{PHONE}"><img src="forest.png"' in html


def test_reports_rebuilds_each_table_from_its_runs_file_then_indexes(tmp_path, monkeypatch):
    # --reports: one command from the runs files: each table's --report-only, with what its table.json records
    import json

    import subprocess

    base = {"better": "a", "worse": "b", "rival": "b", "n": 4, "why": "w", "text": "A beats B", "metric": "fid",
            "sesoi": 2.0, "effect": 6.0, "ci_low": 4.0, "ci_high": 8.0, "verdict": "reproduced"}
    for folder, paper, dataset in (("sgan-shapes", "sgan", "shapes"), ("s2gan", "s2gan", "shapes")):
        _verdicts(tmp_path / folder, [{**base, "claim": f"{paper}-claim"}])
        (tmp_path / folder / "runs.csv").write_text("row,seed\n")
        (tmp_path / folder / "table.json").write_text(json.dumps({"paper": paper, "dataset": dataset,
                                                                  "preset": "quick"}))
    (tmp_path / "no-runs").mkdir()
    (tmp_path / "no-runs" / "table.json").write_text(json.dumps({"paper": "x", "dataset": "y", "preset": "z"}))
    calls = []

    def run(argv, **kw):
        calls.append(argv[3:])  # [python, -m, bench.ablations, ...]
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(subprocess, "run", run)
    assert main(["--results", str(tmp_path), "--reports"]) == 0
    assert [c[:6] for c in calls] == [["--paper", "s2gan", "--dataset", "shapes", "--preset", "quick"],
                                      ["--paper", "sgan", "--dataset", "shapes", "--preset", "quick"]]
    assert all("--report-only" in c and c[c.index("--out") + 1].startswith(str(tmp_path)) for c in calls)
    assert "(sgan-shapes/report.md)" in (tmp_path / "README.md").read_text()
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: subprocess.CompletedProcess(argv, 3))
    with pytest.raises(SystemExit, match="could not be rebuilt"):
        main(["--results", str(tmp_path), "--reports"])

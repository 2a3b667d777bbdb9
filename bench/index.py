"""One index of every claim of every table: ``python -m bench.index`` (issue #29); with ``--reports``, each
table's report is first rebuilt from its own ``runs.csv``, so the whole index comes from the runs files.

Finds each table by its ``results/<table>/verdicts.csv`` (no hand-kept list of papers), reads what the table
is from its ``table.json`` (:mod:`bench.describe`: title, order, what each claim holds equal; a table without
one is listed by its folder's name) and writes

- ``results/forest.png``: every claim as its effect with the 95% interval, **divided by the claim's SESOI**,
  so claims on different metrics share one axis; zero and ±1 SESOI are drawn, points are coloured by verdict;
- ``results/forest-phone.png``: the same plot for a phone, narrow and tall, each claim's label above its
  interval, no text smaller than :data:`PHONE_FONT_PT` points at :data:`PHONE_WIDTH_IN` inches wide (about
  12 px when the page is 390 px wide);
- ``results/README.md`` and ``results/index.html``: verdict counts per table, then every claim (table, claim in
  words, declared metric, SESOI, effect [95% CI], seeds, verdict, why) with links to its table's report and
  ``health.csv``; ``index.html`` shows the phone plot on a narrow screen.

It reads only what the bench wrote; it trains and scores nothing.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
COLOURS = {"reproduced": "#1a9850", "contradicted": "#d73027", "absent": "#4575b4", "inconclusive": "#878787",
           "not testable": "#fdae61", "underpowered": "#bababa"}
ORDER = ("reproduced", "contradicted", "absent", "inconclusive", "not testable")
PHONE = "forest-phone.png"
PHONE_WIDTH_IN = 3.9  # the phone plot's width: 390 px at 100 px per inch, a phone's page
PHONE_FONT_PT = 9.0  # its smallest text: 9 pt at 3.9 in is 12.5 px on a 390 px page (at least ~11 px in a margin)


def description(folder: Path) -> dict:
    """The table's ``table.json`` (:mod:`bench.describe`) in ``folder``; ``{}`` when missing or unreadable."""
    try:
        data = json.loads((folder / "table.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def table_folders(results: Path, name: str = "verdicts.csv") -> list[Path]:
    """The folders of ``results`` holding ``name``, ordered by their table's declared ``order`` (``table.json``),
    then by name."""
    found = [f.parent for f in results.glob(f"*/{name}")]
    return sorted(found, key=lambda p: (description(p).get("order", 50), p.name))


def collect(results: Path) -> pd.DataFrame:
    """Every claim of every table under ``results``: its ``verdicts.csv`` lines with ``table`` (the folder),
    ``title`` and ``holds_equal`` (from ``table.json``; the folder's name and "" without one), and the effect
    and interval in SESOI units (``scaled_*``; NaN where no SESOI is declared)."""
    frames = []
    for folder in table_folders(results):
        v = pd.read_csv(folder / "verdicts.csv")
        if v.empty or "verdict" not in v:
            continue
        desc = description(folder)
        equal = {c.get("id"): c.get("holds_equal", "") for c in desc.get("claims", [])}
        v.insert(0, "table", folder.name)
        v.insert(1, "title", desc.get("title") or folder.name)
        v["holds_equal"] = [equal.get(c, "") for c in v["claim"]] if "claim" in v else ""
        frames.append(v)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    sesoi = pd.to_numeric(out["sesoi"], errors="coerce") if "sesoi" in out else pd.Series(np.nan, index=out.index)
    for col in ("effect", "ci_low", "ci_high"):
        out[f"scaled_{col}"] = pd.to_numeric(out[col], errors="coerce") / sesoi
    return out


def _draw_claims(ax, c: pd.DataFrame, y, clip: float, ms: float) -> None:
    """Each claim of ``c`` at height ``y``: its interval, clipped at ±``clip`` (an arrow marks a clipped end),
    and its effect as a dot, coloured by verdict; lines at 0 and ±1 SESOI."""
    for yi, r in zip(y, c.itertuples()):
        lo, hi, e = (max(-clip, min(clip, x)) for x in (r.scaled_ci_low, r.scaled_ci_high, r.scaled_effect))
        colour = COLOURS.get(r.verdict, "#000000")
        ax.plot([lo, hi], [yi, yi], color=colour, lw=2)
        ax.plot(e, yi, "o", color=colour, ms=ms)
        for end, raw in ((lo, r.scaled_ci_low), (hi, r.scaled_ci_high)):
            if abs(raw) > clip:
                ax.annotate("", xy=(end, yi), xytext=(end - math.copysign(0.6, end), yi),
                            arrowprops=dict(arrowstyle="->", color=colour))
    for x, style in ((0, "-"), (-1, "--"), (1, "--")):
        ax.axvline(x, color="black", lw=0.8, ls=style)
    ax.set_xlim(-clip - 0.5, clip + 0.5)


def _legend(where, c: pd.DataFrame, **kw) -> None:
    """The verdicts' colours, as a legend of ``where`` (an axis or a figure)."""
    import matplotlib.pyplot as plt

    handles = [plt.Line2D([], [], color=COLOURS[k], marker="o", lw=2, label=k) for k in ORDER
               if k in set(c["verdict"])]
    where.legend(handles=handles, frameon=True, **kw)


def forest_figure(claims: pd.DataFrame, clip: float = 12.0):
    """The forest plot of ``claims`` (from :func:`collect`) in SESOI units, clipped at ±``clip``: a figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = claims.dropna(subset=["scaled_effect"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(c) + 1.6))
    y = np.arange(len(c))[::-1]
    _draw_claims(ax, c, y, clip, ms=5)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{r.table}: {r.claim}" for r in c.itertuples()], fontsize=7)
    ax.set_xlabel("effect / SESOI (positive = as the paper says; dashed: ±1 SESOI)")
    _legend(ax, c, loc="lower right", fontsize=7)
    ax.set_title("Every claim, 95% intervals in units of its smallest effect of interest", fontsize=9)
    fig.tight_layout()
    return fig


def phone_figure(claims: pd.DataFrame, clip: float = 12.0):
    """The forest plot for a phone: :data:`PHONE_WIDTH_IN` wide, one band per claim with its label above the
    interval (the whole width for both), every text at least :data:`PHONE_FONT_PT` points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = claims.dropna(subset=["scaled_effect"]).reset_index(drop=True)
    pt = PHONE_FONT_PT
    height = 0.44 * len(c) + 2.3  # inches: a band per claim, the title above, the axis and legend below
    fig, ax = plt.subplots(figsize=(PHONE_WIDTH_IN, height))
    y = np.arange(len(c))[::-1].astype(float)
    _draw_claims(ax, c, y, clip, ms=4)
    for yi, r in zip(y, c.itertuples()):
        ax.text(-clip - 0.3, yi + 0.22, f"{r.table}: {r.claim}", fontsize=pt, va="bottom", ha="left")
    ax.set_ylim(-0.6, len(c) - 0.1)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=pt)
    ax.set_xlabel("effect / SESOI\n(right of 0: as the paper says)", fontsize=pt)
    ax.set_title("Every claim: 95% interval\nin units of its SESOI", fontsize=pt + 1)
    _legend(fig, c, loc="lower center", ncol=2, fontsize=pt)
    fig.subplots_adjust(left=0.04, right=0.96, top=1 - 0.7 / height, bottom=1.45 / height)
    return fig


def forest_plot(claims: pd.DataFrame, path: Path, clip: float = 12.0, phone: bool = False) -> Path:
    """Save the forest plot of ``claims`` (:func:`forest_figure`, or :func:`phone_figure` with ``phone``)."""
    import matplotlib.pyplot as plt

    fig = phone_figure(claims, clip) if phone else forest_figure(claims, clip)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200 if phone else 110)
    plt.close(fig)
    return path


def _ci(e, lo, hi) -> str:
    if not (isinstance(e, float) and e == e):
        return "–"
    return f"{e:+.3g} [{lo:+.3g}, {hi:+.3g}]"


def index_markdown(claims: pd.DataFrame, plot: str = "forest.png") -> str:
    """``results/README.md``: counts per table, the forest plot, then every claim."""
    kinds = list(ORDER) + sorted(set(claims["verdict"]) - set(ORDER))
    lines = ["# Results index", "",
             "_Written by `python -m bench.index` from each table's `verdicts.csv` and `table.json`; do not edit by "
             "hand._", "",
             "## Verdicts per table", "", "| table | claims | " + " | ".join(kinds) + " | report |",
             "|---|---|" + "---|" * len(kinds) + "---|"]
    for t, g in claims.groupby("table", sort=False):
        counts = g["verdict"].value_counts()
        lines.append(f"| `{t}` | {len(g)} | " + " | ".join(str(int(counts.get(k, 0))) for k in kinds)
                     + f" | [{g['title'].iloc[0] if 'title' in g else 'report'}]({t}/report.md) |")
    total = claims["verdict"].value_counts()
    lines.append(f"| **all** | **{len(claims)}** | " + " | ".join(f"**{int(total.get(k, 0))}**" for k in kinds)
                 + " | |")
    lines += ["", f"![every claim, effect / SESOI]({plot})", "",
              "Each claim's effect and 95% interval divided by its SESOI, so that claims on FID, accuracy and "
              "diversity share one axis: inside the dashed lines is an effect too small to matter; an interval "
              "wholly outside them is an effect that does. Not-testable claims are drawn too, in orange: their "
              "numbers compare a model that failed a health gate.", "", "## Every claim", "",
              "| table | claim | metric | SESOI | effect [95% CI] | seeds | verdict | why |", "|---|---|---|---|---|---|---|---|"]
    for r in claims.itertuples():
        why = str(getattr(r, "why", "")).replace("|", "\\|")
        held = str(getattr(r, "holds_equal", "") or "").replace("|", "\\|")
        why += f" *Held equal:* {held}." if held else ""
        sesoi = getattr(r, "sesoi", float("nan"))
        lines.append(f"| [`{r.table}`]({r.table}/report.md) | {r.text} | {r.metric} | "
                     f"{'–' if sesoi != sesoi else f'{sesoi:g}'} | {_ci(r.effect, r.ci_low, r.ci_high)} | "
                     f"{int(r.n) if r.n == r.n else 0} | **{r.verdict}** | {why} |")
    return "\n".join(lines) + "\n"


def index_html(text: str, plot: str = "forest.png", phone: str | None = PHONE) -> str:
    """``index.html`` from the index's Markdown: links to the reports' HTML, and the forest plot as a
    ``<picture>`` that shows ``phone`` on a screen at most 640 px wide."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(text).replace("report.md", "report.html")
    if phone:
        html = re.sub(rf'(<img src="{re.escape(plot)}"[^>]*>)',
                      rf'<picture><source media="(max-width: 640px)" srcset="{phone}">\1</picture>', html, count=1)
    return ("<!doctype html><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            "<title>Results index</title><style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:0 8px}"
            "table{border-collapse:collapse;display:block;overflow-x:auto}td,th{border:1px solid #ccc;padding:3px 6px}"
            "img{max-width:100%}</style>" + html)


def write_index(results: Path) -> dict[str, Path]:
    """Write ``forest.png``, ``forest-phone.png``, ``README.md`` and ``index.html`` into ``results``; returns
    their paths."""
    claims = collect(results)
    if claims.empty:
        raise SystemExit(f"error: no results/<table>/verdicts.csv under {results}")
    plot = forest_plot(claims, results / "forest.png")
    phone = forest_plot(claims, results / PHONE, phone=True)
    text = index_markdown(claims, plot.name)
    (results / "README.md").write_text(text)
    (results / "index.html").write_text(index_html(text, plot.name, phone.name))
    return {"forest": plot, "phone": phone, "readme": results / "README.md", "html": results / "index.html"}


def rebuild_reports(results: Path) -> list[Path]:
    """Rebuild every table's report from its own ``runs.csv``: ``python -m bench.ablations --report-only`` (a
    process of its own: the bench imports this module) with the paper, dataset and preset its ``table.json``
    records; returns the folders rebuilt. Trains and scores nothing.

    Raises:
        SystemExit: a table's report could not be rebuilt (the bench says why).
    """
    import subprocess

    done = []
    for desc in sorted(Path(results).glob("*/table.json")):
        folder, t = desc.parent, json.loads(desc.read_text())
        if not (folder / "runs.csv").is_file():
            continue
        argv = [sys.executable, "-m", "bench.ablations", "--paper", t["paper"], "--dataset", t["dataset"],
                "--preset", t["preset"], "--out", str(folder), "--report-only", "--no-progress"]
        code = subprocess.run(argv, cwd=ROOT).returncode
        if code:
            raise SystemExit(f"error: the report of {folder} could not be rebuilt (exit {code})")
        done.append(folder)
    return done


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.index", description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=ROOT / "results")
    p.add_argument("--reports", action="store_true",
                   help="first rebuild every table's report from its runs.csv (bench.ablations --report-only), so "
                        "the whole index comes from the runs files with this one command")
    args = p.parse_args(argv)
    if args.reports:
        for folder in rebuild_reports(args.results):
            print(f"rebuilt {folder}/report.md")
    for name, path in write_index(args.results).items():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

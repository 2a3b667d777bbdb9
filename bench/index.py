"""One index of every claim of every table: ``python -m bench.index`` (issue #29, first part).

Finds each table by its ``results/<table>/verdicts.csv`` (no hand-kept list of papers) and writes

- ``results/forest.png``: every claim as its effect with the 95% interval, **divided by the claim's SESOI**,
  so claims on different metrics share one axis; zero and ±1 SESOI are drawn, points are coloured by verdict;
- ``results/README.md`` and ``results/index.html``: verdict counts per table, then every claim (table, claim in
  words, declared metric, SESOI, effect [95% CI], seeds, verdict, why) with links to its table's report and
  ``health.csv``.

It reads only what the bench wrote; it trains and scores nothing.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
COLOURS = {"reproduced": "#1a9850", "contradicted": "#d73027", "absent": "#4575b4", "inconclusive": "#878787",
           "not testable": "#fdae61", "underpowered": "#bababa"}
ORDER = ("reproduced", "contradicted", "absent", "inconclusive", "not testable")


def collect(results: Path) -> pd.DataFrame:
    """Every claim of every table under ``results``: its ``verdicts.csv`` lines with a ``table`` column, and
    the effect and interval in SESOI units (``scaled_*``; NaN where no SESOI is declared)."""
    frames = []
    for f in sorted(results.glob("*/verdicts.csv")):
        v = pd.read_csv(f)
        if v.empty or "verdict" not in v:
            continue
        v.insert(0, "table", f.parent.name)
        frames.append(v)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    sesoi = pd.to_numeric(out["sesoi"], errors="coerce") if "sesoi" in out else pd.Series(np.nan, index=out.index)
    for col in ("effect", "ci_low", "ci_high"):
        out[f"scaled_{col}"] = pd.to_numeric(out[col], errors="coerce") / sesoi
    return out


def forest_plot(claims: pd.DataFrame, path: Path, clip: float = 12.0) -> Path:
    """The forest plot of ``claims`` (from :func:`collect`) in SESOI units, clipped at ±``clip`` (an arrow
    marks a clipped end)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = claims.dropna(subset=["scaled_effect"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(c) + 1.6))
    y = np.arange(len(c))[::-1]
    for yi, r in zip(y, c.itertuples()):
        lo, hi, e = (max(-clip, min(clip, x)) for x in (r.scaled_ci_low, r.scaled_ci_high, r.scaled_effect))
        colour = COLOURS.get(r.verdict, "#000000")
        ax.plot([lo, hi], [yi, yi], color=colour, lw=2)
        ax.plot(e, yi, "o", color=colour, ms=5)
        for end, raw in ((lo, r.scaled_ci_low), (hi, r.scaled_ci_high)):
            if abs(raw) > clip:
                ax.annotate("", xy=(end, yi), xytext=(end - math.copysign(0.6, end), yi),
                            arrowprops=dict(arrowstyle="->", color=colour))
    for x, style in ((0, "-"), (-1, "--"), (1, "--")):
        ax.axvline(x, color="black", lw=0.8, ls=style)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{r.table}: {r.claim}" for r in c.itertuples()], fontsize=7)
    ax.set_xlim(-clip - 0.5, clip + 0.5)
    ax.set_xlabel("effect / SESOI (positive = as the paper says; dashed: ±1 SESOI)")
    handles = [plt.Line2D([], [], color=COLOURS[k], marker="o", lw=2, label=k) for k in ORDER
               if k in set(c["verdict"])]
    ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=True)
    ax.set_title("Every claim, 95% intervals in units of its smallest effect of interest", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
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
             "_Written by `python -m bench.index` from each table's `verdicts.csv`; do not edit by hand._", "",
             "## Verdicts per table", "", "| table | claims | " + " | ".join(kinds) + " | report |",
             "|---|---|" + "---|" * len(kinds) + "---|"]
    for t, g in claims.groupby("table", sort=False):
        counts = g["verdict"].value_counts()
        lines.append(f"| `{t}` | {len(g)} | " + " | ".join(str(int(counts.get(k, 0))) for k in kinds)
                     + f" | [report]({t}/report.md) |")
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
        sesoi = getattr(r, "sesoi", float("nan"))
        lines.append(f"| [`{r.table}`]({r.table}/report.md) | {r.text} | {r.metric} | "
                     f"{'–' if sesoi != sesoi else f'{sesoi:g}'} | {_ci(r.effect, r.ci_low, r.ci_high)} | "
                     f"{int(r.n) if r.n == r.n else 0} | **{r.verdict}** | {why} |")
    return "\n".join(lines) + "\n"


def write_index(results: Path) -> dict[str, Path]:
    """Write ``forest.png``, ``README.md`` and ``index.html`` into ``results``; returns their paths."""
    claims = collect(results)
    if claims.empty:
        raise SystemExit(f"error: no results/<table>/verdicts.csv under {results}")
    plot = forest_plot(claims, results / "forest.png")
    text = index_markdown(claims, plot.name)
    (results / "README.md").write_text(text)
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(text)
    (results / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        "<title>Results index</title><style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:0 8px}"
        "table{border-collapse:collapse;display:block;overflow-x:auto}td,th{border:1px solid #ccc;padding:3px 6px}"
        "img{max-width:100%}</style>" + html.replace("report.md", "report.html"))
    return {"forest": plot, "readme": results / "README.md", "html": results / "index.html"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.index", description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=ROOT / "results")
    args = p.parse_args(argv)
    for name, path in write_index(args.results).items():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

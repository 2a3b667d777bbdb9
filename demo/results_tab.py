"""Results tab: every paper under ``results/`` that has an ablation, with the paper's numbers,
the verdicts and the plots. Adapts to whatever papers ``results/`` holds."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

DEFAULT_RESULTS = Path(__file__).resolve().parent.parent / "results"


def papers(results: Path) -> list[str]:
    return sorted(p.name for p in results.iterdir() if (p / "ablation.csv").is_file()) if results.is_dir() else []


def table(results: Path, paper: str) -> pd.DataFrame:
    """One line per row: ours (mean ± sd, n) next to the paper's value, for the table's metrics."""
    agg = pd.read_csv(results / paper / "ablation.csv")
    agg["ours"] = [f"{m:.3f} ± {s:.3f} (n={int(n)})" for m, s, n in zip(agg["mean"], agg["std"], agg["n"])]
    wide = agg.pivot(index="row", columns="metric", values="ours")
    keep = [c for c in ("is_mean", "fid", "kid_mean", "cond_acc", "diversity", "inception_fid") if c in wide.columns]
    wide = wide[keep].reindex(list(dict.fromkeys(agg["row"])))
    paper_is = agg[agg["metric"] == "is_mean"].set_index("row")
    if "paper_mean" in paper_is:
        wide["paper IS"] = [f"{m:.2f} ± {s:.2f}" if m == m else "–"
                            for m, s in zip(paper_is["paper_mean"].reindex(wide.index),
                                            paper_is["paper_std"].reindex(wide.index))]
    return wide.reset_index()


def verdicts(results: Path, paper: str) -> pd.DataFrame:
    f = results / paper / "verdicts.csv"
    if not f.is_file():
        return pd.DataFrame()
    v = pd.read_csv(f)
    v["effect [95% CI]"] = [f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}]" if e == e else "–"
                            for e, lo, hi in zip(v["effect"], v["ci_low"], v["ci_high"])]
    return v[["text", "metric", "effect [95% CI]", "n", "verdict"]].rename(columns={"text": "claim", "n": "seeds"})


def show(results: Path, paper: str | None):
    if not paper:
        return pd.DataFrame(), pd.DataFrame(), None, "No benchmark results found under results/."
    plot = results / paper / "ablation.png"
    report = results / paper / "report.md"
    header = report.read_text().split("## Table")[0] if report.is_file() else ""
    return table(results, paper), verdicts(results, paper), str(plot) if plot.is_file() else None, header


def build(results: Path | None = None) -> None:
    results = Path(results or DEFAULT_RESULTS)
    found = papers(results)
    with gr.Tab("Results"):
        gr.Markdown("Ablation tables rerun by `python -m bench.ablations`: mean ± sd over training seeds, "
                    "the paper's number beside ours, and a verdict per claim of the paper.")
        choice = gr.Dropdown(found, value=found[0] if found else None, label="Paper")
        first = show(results, found[0] if found else None)
        header = gr.Markdown(first[3])
        tbl = gr.Dataframe(first[0], label="Ablation table", interactive=False)
        ver = gr.Dataframe(first[1], label="Claims and verdicts", interactive=False)
        img = gr.Image(first[2], label="Plots", type="filepath", interactive=False)
        choice.change(lambda p: show(results, p), [choice], [tbl, ver, img, header], api_name="results")

"""``ablation.csv``, ``verdicts.csv``, plots, and ``report.md`` / ``report.html`` from ``runs.csv``."""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd

from bench.plots import plot_metrics, sample_sheet
from bench.runs import read_runs
from bench.spec import HIGHER_IS_BETTER, Row, Table
from bench.stats import INCONCLUSIVE, aggregate, judge


def _fmt(mean, std=None, digits=3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    s = f"{mean:.{digits}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        s += f" ± {std:.{digits}f}"
    return s


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_outputs(table: Table, rows: list[Row], args, out: Path, command: str, wall_time_s: float,
                  n_seeds: int, machine: str) -> dict:
    runs = read_runs(out / "runs.csv")
    values = runs[runs["metric"] != "__failed__"]
    paper = {r.id: r.paper for r in rows}
    agg = aggregate(values, paper)
    agg.to_csv(out / "ablation.csv", index=False)
    verdicts = pd.DataFrame([judge(c, values) for c in table.claims])
    verdicts.to_csv(out / "verdicts.csv", index=False)
    order = [r.id for r in rows]
    plots = []
    if not values.dropna(subset=["value"]).empty:
        shown = values[values["metric"].isin(table.display) | values["metric"].str.startswith("inception_fid")]
        plots.append(plot_metrics(shown, order, paper, out / "ablation.png"))
    # one sample sheet per row, from seed 0's model: the same test items' conditions (captions, labels,
    # structure maps; none for an unconditional model) and the same noise seeds for every row
    sheets = {}
    for row in rows:
        ck = values[(values["row"] == row.id) & (values["seed"] == 0)]["checkpoint"].dropna()
        if not len(ck):  # no finished seed-0 cell (e.g. removed from runs.csv): drop any older sheet
            (out / "samples" / f"{row.id}.png").unlink(missing_ok=True)
        else:
            try:
                sheets[row.id] = sample_sheet(out / ck.iloc[0], [0, 1, 2, 3], out / "samples" / f"{row.id}.png")
            except FileNotFoundError:
                pass  # the checkpoint lives on another machine: keep the report, skip the sheet
    cells = runs.drop_duplicates(["row", "seed"])
    failed = runs[runs["metric"] == "__failed__"]
    total_wall = float(cells["wall_time_s"].sum()) if len(cells) else 0.0
    text = _report_md(table, rows, args, agg, verdicts, command, total_wall, wall_time_s, n_seeds, machine,
                      plots, sheets, out, failed, runs, cells)
    (out / "report.md").write_text(text)
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(text)
    (out / "report.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>" + table.title + "</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px}img{max-width:100%}</style>" + html)
    return {"ablation": agg, "verdicts": verdicts}


def update_readme(readme: Path, paper: str, report: Path) -> bool:
    """Copy the report's "Table" and "Claims" sections into ``readme`` between the markers
    ``<!-- <paper>-results:start -->`` and ``<!-- <paper>-results:end -->``, with a link to the report.
    Returns False (and changes nothing) when the README has no such markers."""
    start, end = f"<!-- {paper}-results:start -->", f"<!-- {paper}-results:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        return False
    report_text = report.read_text()
    header = [ln for ln in report_text.splitlines() if ln.startswith("- Cells finished") or ln.startswith("- Code")]
    body = report_text.split("\n## Table\n", 1)[-1].split("\n## Plots\n", 1)[0].split("\n## Samples\n", 1)[0]
    body = body.replace("\n## Claims\n", "\n**Claims**\n")
    link = os.path.relpath(report, readme.parent)
    block = "\n".join([start, f"_Copied from [`{link}`]({link}) by `--report-only`; do not edit by hand._", "",
                        *header, "", body.strip(), end])
    readme.write_text(text.split(start, 1)[0] + block + text.split(end, 1)[1])
    return True


def _claims_on_every_metric(table: Table, runs: pd.DataFrame, metrics: list[str]) -> list[str]:
    """The same comparisons as the claims, on every displayed metric: effect [95% CI], in bold where the
    interval excludes zero. Secondary: the verdicts above use only each claim's declared metric."""
    others = [m for m in metrics if m in set(runs["metric"])]
    if not table.claims or not others:
        return []
    body, tested, excluded, seen = [], 0, 0, set()
    for c in table.claims:
        if (c.better, c.worse) in seen:  # a claim restated on another metric: same comparison
            continue
        seen.add((c.better, c.worse))
        line = [c.text]
        for m in others:
            v = judge(replace(c, metric=m), runs)  # judge reads only metric m's rows
            if pd.isna(v["effect"]) or v["n"] < 2:
                line.append("–")
                continue
            tested += 1
            cell = f"{v['effect']:+.3f} [{v['ci_low']:+.3f}, {v['ci_high']:+.3f}]"
            if v["verdict"] != INCONCLUSIVE:
                excluded += 1
                cell = f"**{cell}**"
            line.append(cell)
        body.append(line)
    return ["### Every claim on every metric", "",
            "The same comparisons on every metric of the table, signed so that positive means \"as the paper "
            "claims\" (lower FID and KID count as better; higher diversity counts as better). In bold: the 95% "
            f"interval excludes zero. These are {tested} intervals, so about {0.05 * tested:.0f} could exclude zero by "
            f"chance alone; {excluded} do. They describe the measurements; the verdicts above use only each "
            "claim's declared metric.", "", md_table(["claim", *others], body), ""]


def _report_md(table, rows, args, agg, verdicts, command, total_wall, this_wall, n_seeds, machine, plots, sheets,
               out, failed, runs, cells) -> str:
    present = set(agg["metric"]) if len(agg) else set()
    metrics = [m for m in table.display if m in present] + sorted(
        m for m in present if m.startswith("inception_") and m.endswith(("fid", "kid_mean", "is_mean")))
    shas = sorted(set(runs["git_sha"].dropna().astype(str))) if len(runs) else []
    parts = [f"# {table.title}", "",
             f"- Command: `{command}`",
             f"- Preset: `{args.preset}`; dataset: `{args.dataset}`; training seeds: {n_seeds} (0–{n_seeds - 1})",
             f"- Machine: {machine}",
             f"- Cells finished: {len(cells) - len(failed.drop_duplicates(['row', 'seed']))} of "
             f"{len(rows) * n_seeds} ({len(rows)} rows × {n_seeds} seeds)"
             + ("" if len(cells) >= len(rows) * n_seeds else
                " — **partial**: rerun the command above (with `--resume`) to continue; verdicts use what has finished"),
             f"- Total wall time of all cells: {total_wall / 60:.1f} min (this invocation: {this_wall / 60:.1f} min)",
             "- Wall time per seed (sum of its cells, i.e. one seed of the whole table): " + ", ".join(
                 f"seed {int(s)}: {g['wall_time_s'].sum() / 60:.1f} min ({len(g)} of {len(rows)} cells)"
                 for s, g in cells.groupby("seed"))
             + (f"; at each row's fastest measured cell: {cells.groupby('row')['wall_time_s'].min().sum() / 60:.1f} min"
                if cells["row"].nunique() == len(rows) else ""),
             f"- Code: git {', '.join(shas) or 'unknown'}",
             ""]
    notes = table.notes(args.preset)
    if notes:
        parts += [notes, ""]
    parts += ["## Table", "", "Mean ± sd over training seeds (n = seeds that finished). The paper's numbers are "
              "Inception scores on CUB with an Inception net fine-tuned on birds; ours are scored by our own "
              "classifier on our data, so compare directions and gaps, not absolute values.", ""]
    header = ["row", "method", *[k for k in (rows[0].params if rows else {})], *metrics, "n", "paper IS"]
    body = []
    for r in rows:
        a = agg[agg["row"] == r.id]
        cells = []
        for m in metrics:
            x = a[a["metric"] == m]
            cells.append(_fmt(x["mean"].iloc[0], x["std"].iloc[0]) if len(x) else "–")
        n = int(a["n"].max()) if len(a) else 0
        p = r.paper.get("is_mean")
        body.append([f"`{r.id}`", r.label, *[str(v) for v in r.params.values()], *cells, n,
                     _fmt(*p, digits=2) if p else "–"])
    parts += [md_table(header, body), ""]
    parts += ["## Claims", "", "Effect = difference of seed means in the claim's direction (positive = as the paper "
              "says), with a 95% Welch t interval across training seeds. Verdict: *reproduced* if the interval lies "
              "above 0, *contradicted* if below, *inconclusive* otherwise.", ""]
    vb = []
    for _, v in verdicts.iterrows():
        ci = "–" if pd.isna(v["effect"]) else f"{v['effect']:+.3f} [{v['ci_low']:+.3f}, {v['ci_high']:+.3f}]"
        width = v["ci_high"] - v["ci_low"]
        half = f"{width / 2:.3f}" if pd.notna(width) and math.isfinite(width) else "–"
        vb.append([v["text"], f"`{v['better']}` vs `{v.get('rival', v['worse'])}`", v["metric"], ci, half,
                   int(v["n"]), f"**{v['verdict']}**", v["why"]])
    parts += [md_table(["claim", "comparison", "metric", "effect [95% CI]", "resolvable", "seeds", "verdict", "why"],
                       vb), "",
              "*Resolvable* is the interval's half-width: with these seeds and this seed-to-seed spread, an effect "
              "smaller than it cannot be told from training noise. More seeds shrink it roughly as 1/√n.", ""]
    parts += _claims_on_every_metric(table, runs, metrics)
    if plots:
        parts += ["## Plots", ""] + [f"![{p.stem}]({p.relative_to(out)})" for p in plots] + [""]
    if sheets:
        parts += ["## Samples", "", "Seed-0 model of each row; the same captions and noise seeds (0–3) in every sheet."
                  " Stacked rows show the Stage-I image left of each final image.", ""]
        for rid, p in sheets.items():
            parts += [f"**`{rid}`**", "", f"![{rid}]({p.relative_to(out)})", ""]
    if len(failed):
        parts += ["## Failed cells", ""] + [f"- `{r.row}` seed {int(r.seed)}: {r.error}" for r in failed.itertuples()] + [""]
    parts += ["## Reproduce", "", "```bash", command, "```", "",
              "Every number above comes from `runs.csv` (one line per row, seed and metric, with the git SHA, "
              "checkpoint and wall time); `ablation.csv` and `verdicts.csv` are computed from it."]
    return "\n".join(parts) + "\n"

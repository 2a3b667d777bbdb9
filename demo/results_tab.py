"""Results tab, written for a reader: what the benchmark found in plain words first, then the claims,
the table with its rows and measures explained, and the plots. Above the papers, the index of every claim
(issue #29): the verdict counts of each table, the forest plot (``results/forest.png``, and on a phone
``results/forest-phone.png``, both written by ``python -m bench.index``) and every claim of every table in
plain words. Reads only those and ``results/<paper>/`` (``table.json``, ``ablation.csv``, ``verdicts.csv``,
``runs.csv``, ``report.md``, ``ablation.png``, ``showcase/scores.json``, the sample sheets ``samples/*.png``, which
:mod:`demo.files` serves); a missing file leaves its part out.

It adapts to whatever tables are there and holds no list of papers: what differs between them in the words
(captions or class labels, what one class is, where the paper measured its scores, what the row columns say,
the title and the order) is read from each table's ``table.json``, which the bench writes from the table's
own declaration (``bench/tables/<paper>.py``, :mod:`bench.describe`). A folder without one is shown in
plain, general words."""
from __future__ import annotations

import json
import re
from html import escape as esc
from pathlib import Path

import gradio as gr
import pandas as pd

from core.metrics.registry import higher_is_better, label, meaning
from demo.files import sheet_url, small_size
from demo.sharing import png_size
from demo.tabs import Context, Tab

# The measures the tab explains, in its order; keys not listed are shown as they are.
TABLE_METRICS = ("is_mean", "fid", "kid_mean", "cond_acc", "diversity", "inception_fid", "recall", "diversity_detail")


def _words(key: str) -> tuple[str, str, str]:
    """(name in words, better when: ``higher`` or ``lower``, what it measures), from the metric registry."""
    return label(key), "higher" if higher_is_better(key) else "lower", meaning(key)


# metric key -> (name in words, better when, what it measures)
METRICS = {k: _words(k) for k in TABLE_METRICS}
VERDICT_WORDS = {
    "reproduced": "the difference goes the paper's way and is larger than the spread between training runs, "
                  "after correcting for the table's number of claims",
    "contradicted": "the difference goes against the paper, after the same correction",
    "absent": "the difference is shown to be smaller than the smallest effect that would matter (an equivalence "
              "test): the paper's effect is not there at a size that matters",
    "inconclusive": "the seeds can tell neither a difference nor its absence: it could be chance",
    "not testable": "a compared model failed a health check (for example it collapsed), or the score sits at "
                    "chance in every compared model, so the comparison tests nothing",
    "underpowered": "an older label (protocol version 1): too few seeds planned for the effect expected",
}


TABLE_JSON = "table.json"  # a table's own description, written beside its results by the bench (bench.describe)


def description(results: Path, paper: str) -> dict:
    """What the table in ``results/<paper>`` is, from its ``table.json`` (paper, title, dataset and what one of
    its classes is, condition kinds, rows, claims, the words for its columns); ``{}`` when there is none or it
    cannot be read, and the tab then says less (never a wrong word)."""
    try:
        data = json.loads((results / paper / TABLE_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def condition(results: Path, paper: str) -> str:
    """What the table's models are asked for: ``"caption"`` (text), ``"label"`` (a class), ``"none"``, or ``""``
    when its ``table.json`` does not say."""
    desc = description(results, paper)
    if "conditions" not in desc:
        return ""
    kinds = set(desc["conditions"])
    return "caption" if "text" in kinds else "label" if "label" in kinds else "none"


def _folders_with(results: Path, name: str) -> list[str]:
    """Folders of ``results`` holding the file ``name``, in their tables' declared ``order`` (``table.json``;
    50 without one), then by name."""
    if not results.is_dir():
        return []
    found = [p.name for p in results.iterdir() if (p / name).is_file()]
    return sorted(found, key=lambda p: (description(results, p).get("order", 50), p))


def papers(results: Path) -> list[str]:
    """Folders of ``results`` holding an ``ablation.csv``, in their tables' order (:func:`_folders_with`)."""
    return _folders_with(results, "ablation.csv")


def metrics_for(results: Path, paper: str) -> dict[str, tuple[str, str, str]]:
    """:data:`METRICS` in the words of one paper's table (its ``table.json``): what a class is on the dataset
    its cells ran on and, for a label-conditioned model, class accuracy instead of caption accuracy."""
    noun = description(results, paper).get("class_noun", "")
    out = dict(METRICS)
    name, better, _ = METRICS["is_mean"]
    over = f"the 10 {noun}s" if noun else "the classes"
    out["is_mean"] = (name, better, f"how confidently, and how evenly over {over}, our evaluation classifier "
                      f"recognises {'a ' + noun if noun else 'a class'} in the images (at most "
                      f"{'10' if noun else 'the number of classes'})")
    kind = condition(results, paper)
    if kind == "caption":
        out["cond_acc"] = ("caption accuracy", *METRICS["cond_acc"][1:])
    if kind == "label":
        thing = noun or "class"
        out["cond_acc"] = ("class accuracy", METRICS["cond_acc"][1], f"how often the evaluation classifier reads "
                           f"back the {thing} the model was asked to draw (its class label)")
        out["diversity"] = (*METRICS["diversity"][:2], "how different the images of one class are from each other "
                            "(0 = the model ignores its random noise)")
    return out


def metric_name(key: str, metrics: dict = METRICS) -> str:
    if key in metrics:
        name, better, _ = metrics[key]
        return f"{name} {'↑' if better == 'higher' else '↓'}"
    return key


def paper_column(results: Path, paper: str) -> str:
    where = description(results, paper).get("paper_data", "")
    return f"paper's Inception score ({where})" if where else "paper's Inception score"


def _fmt(m: float, s: float, key: str) -> str:
    d = 2 if key in ("is_mean", "fid", "inception_fid") else 3
    return f"{m:.{d}f} ± {s:.{d}f}" if s == s else f"{m:.{d}f}"


def row_descriptions(results: Path, paper: str, metrics: set[str] = frozenset()) -> pd.DataFrame:
    """What each row is (``model (paper's name)``, ``CA``, ...): the first table of ``report.md``'s
    "Table" section without its measures (``metrics`` and those of :data:`METRICS`); empty if none."""
    f = results / paper / "report.md"
    if not f.is_file():
        return pd.DataFrame()
    lines = []
    for ln in f.read_text().split("## Table", 1)[-1].splitlines():
        if ln.startswith("|"):
            lines.append(ln)
        elif lines:
            break  # the end of the first table
    if len(lines) < 3:
        return pd.DataFrame()
    cells = [[c.strip().strip("`") for c in ln.strip().strip("|").split("|")] for ln in lines]
    header, body = cells[0], [c for c in cells[2:] if len(c) == len(cells[0])]
    if not header or header[0] != "row":
        return pd.DataFrame()
    known = set(metrics) | set(METRICS) | {"n", "paper IS"}
    keep = [i for i, h in enumerate(header) if h not in known
            and not h.startswith(("is_", "kid_", "cond_acc", "paper ("))]
    df = pd.DataFrame([[r[i] for i in keep] for r in body], columns=[header[i] for i in keep])
    return df.rename(columns={"method": "model (paper's name)", "resolution": "our resolution (px)"})


def table(results: Path, paper: str) -> pd.DataFrame:
    """One line per row: what it is, ours (mean ± sd over training seeds) per measure, the paper's number."""
    agg = pd.read_csv(results / paper / "ablation.csv")
    order = list(dict.fromkeys(agg["row"]))
    measured = set(agg["metric"])
    agg = agg[agg["metric"].isin(TABLE_METRICS)]
    agg = agg.assign(ours=[_fmt(m, s, k) for m, s, k in zip(agg["mean"], agg["std"], agg["metric"])])
    wide = agg.pivot(index="row", columns="metric", values="ours")
    wide = wide[[k for k in TABLE_METRICS if k in wide.columns]].reindex(order)
    seeds = agg.groupby("row")["n"].max().reindex(order)
    words = metrics_for(results, paper)
    wide = wide.rename(columns=lambda k: metric_name(k, words))
    wide["seeds"] = [str(int(s)) if s == s else "–" for s in seeds]
    paper_is = agg[agg["metric"] == "is_mean"].set_index("row")
    if "paper_mean" in paper_is and paper_is["paper_mean"].notna().any():
        wide[paper_column(results, paper)] = [
            f"{m:.2f} ± {s:.2f}" if m == m else "–"
            for m, s in zip(paper_is["paper_mean"].reindex(wide.index), paper_is["paper_std"].reindex(wide.index))]
    wide = wide.reset_index()
    desc = row_descriptions(results, paper, measured)
    if not desc.empty:  # the report's order is the paper's
        order = list(desc["row"]) + [r for r in wide["row"] if r not in set(desc["row"])]
        wide = desc.merge(wide, on="row", how="right").set_index("row").reindex(order).reset_index()
    return wide.fillna("–")


def verdicts(results: Path, paper: str) -> pd.DataFrame:
    f = results / paper / "verdicts.csv"
    if not f.is_file():
        return pd.DataFrame()
    v = pd.read_csv(f)
    words = metrics_for(results, paper)
    return pd.DataFrame({
        "verdict": v["verdict"],
        "claim of the paper": v["text"],
        "compares": [f"{b} vs {w}" for b, w in zip(v["better"], v["worse"])] if "better" in v else "",
        "measured by": [metric_name(m, words) for m in v["metric"]],
        "difference, paper's way [95% interval]": [
            f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}]" if e == e else "–"
            for e, lo, hi in zip(v["effect"], v["ci_low"], v["ci_high"])],
        "seeds": v["n"],
    })


def _runs(results: Path, paper: str) -> pd.DataFrame:
    f = results / paper / "runs.csv"
    return pd.read_csv(f) if f.is_file() else pd.DataFrame()


def code_version(runs: pd.DataFrame) -> str:
    """The code version in short form: the last cell's commit, and how many versions ran the cells."""
    if runs.empty or "git_sha" not in runs:
        return ""
    shas = [s for s in runs["git_sha"].dropna().astype(str) if s]
    if not shas:
        return ""
    last = shas[-1]
    short = last[:7] + (" with uncommitted changes" if last.endswith("-dirty") else "")
    versions = len(dict.fromkeys(s.removesuffix("-dirty") for s in shas))
    more = (f"; the cells ran on {versions} versions of the code over time, each cell's is in `runs.csv`"
            if versions > 1 else "")
    return f"Code: git `{short}` (the last cell's{more})."


def shipped_model(results: Path, paper: str) -> str:
    """The README's headline numbers for the model served in the demo, from ``showcase/scores.json``
    (as ``bench.showcase`` writes it for a caption model on ``shapes``)."""
    if condition(results, paper) != "caption":
        return ""
    f = results / paper / "showcase" / "scores.json"
    try:
        data = json.loads(f.read_text())
        test = data["scores"]["final"]["test"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    from core.data.shapes import ATTRIBUTES

    names = {"shape": "shape", "color": "colour", "texture": "pattern", "background": "background"}
    parts = [f"{names[a]} {test[f'cond_acc_{a}']:.0%} (chance {1 / len(ATTRIBUTES[a]):.0%})"
             for a in names if f"cond_acc_{a}" in test]
    text = (f"**The model you can try** (trained longer than the benchmark's rows): on {data.get('n', '?'):,} "
            "held-out test captions, the evaluation classifier finds the asked-for " + ", ".join(parts))
    if "fid" in test:
        text += f"; FID {test['fid']:.1f}"
    unseen = data["scores"]["final"].get("test_unseen", {})
    if "cond_acc_shape" in unseen:
        text += (f". On shape–colour pairs it never saw in training, it gets the shape right "
                 f"{unseen['cond_acc_shape']:.0%} of the time")
    return text + "."


def summary(results: Path, paper: str) -> str:
    """The plain-language part: what was run, what came out, per claim, and the shipped model's numbers."""
    runs = _runs(results, paper)
    v = pd.read_csv(results / paper / "verdicts.csv") if (results / paper / "verdicts.csv").is_file() else None
    words = metrics_for(results, paper)
    out = [f"### {title(results, paper)}: in short"]
    setup = []
    if not runs.empty:
        seeds = runs["seed"].nunique() if "seed" in runs else None
        preset = ", ".join(sorted(runs["preset"].dropna().astype(str).unique())) if "preset" in runs else ""
        data = ", ".join(sorted(runs["dataset"].dropna().astype(str).unique())) if "dataset" in runs else ""
        setup.append(f"We retrained every row of the paper's table {seeds} times, with different training "
                     f"seeds, on our `{data}` data at the `{preset}` budget, and scored each run.")
    if v is not None and len(v):
        counts = v["verdict"].value_counts()
        kinds = ["reproduced", "contradicted", "inconclusive"] + [k for k in counts.index if k not in
                                                                  ("reproduced", "contradicted", "inconclusive")]
        tally = ", ".join(f"{counts.get(k, 0)} {k}" for k in kinds)
        setup.append(f"Of the paper's {len(v)} claims: **{tally}**.")
        if counts.get("inconclusive", 0) == len(v):
            setup.append("In every case the two models differed by less than the same model differs from one "
                         "training run to the next, so at this budget the benchmark cannot say whether the "
                         "paper's claims hold here; it does not show they are wrong.")
    out.append(" ".join(setup))
    if v is not None:
        bullets = []
        for _, r in v.iterrows():
            what = (f"{words.get(r['metric'], (r['metric'],))[0]} in the paper's favour: {r['effect']:+.2f}; "
                    f"95% interval {r['ci_low']:+.2f} to {r['ci_high']:+.2f}" if r["effect"] == r["effect"]
                    else "not measured")
            why = "" if r["verdict"] in VERDICT_WORDS or not isinstance(r.get("why"), str) else f" {r['why']}."
            bullets.append(f"- **{str(r['verdict']).capitalize()}**: {r['text']} ({what}).{why}")
        out.append("\n".join(bullets))
        shown = [k for k in VERDICT_WORDS if k in set(v["verdict"])]
        out.append(" ".join(f"*{k.capitalize()}*: {VERDICT_WORDS[k]}." for k in shown))
    out += [shipped_model(results, paper), code_version(runs)]
    return "\n\n".join(s for s in out if s)


def legend(results: Path, paper: str) -> str:
    """How to read the table: what a cell is, what each measure means."""
    agg = pd.read_csv(results / paper / "ablation.csv")
    words, desc = metrics_for(results, paper), description(results, paper)
    settings = desc.get("settings") or "the settings that tell the rows apart"
    present = [k for k in words if k in set(agg["metric"])]
    lines = ["**How to read the table.** Each row is one model, trained once per seed; a cell is the mean ± "
             "standard deviation over those runs (column *seeds*). The first columns say what the row is: the "
             f"paper's name for it, {settings}. ↑ means higher is better, ↓ lower."]
    lines += [f"- **{words[k][0]}** ({words[k][1]} is better): {words[k][2]}." for k in present]
    if agg.get("paper_mean") is not None and agg["paper_mean"].notna().any():
        where = f" on {desc['paper_data']}" if desc.get("paper_data") else ""
        lines.append(f"- **paper's Inception score**: the paper's number, measured{where} with an Inception "
                     "network; ours uses our own classifier on our data, so compare which row wins, not the values.")
    return "\n".join(lines)


def markdown_table(df: pd.DataFrame, code: tuple[str, ...] = ()) -> str:
    """``df`` as a Markdown table (proportional font, wraps to the page); ``code`` columns in backticks."""
    if df.empty:
        return ""
    cell = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    head = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(f"`{cell(v)}`" if c in code and v not in ("", "–") else cell(v)
                              for c, v in zip(df.columns, r)) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


PLOT_LABEL = "Every measure per row (dots: single training runs; bars: mean ± sd)"


def title(results: Path, paper: str) -> str:
    """The table's title (its ``table.json``), else as ``report.md``'s first line names it (``Toy paper
    (Table 1)``), else the folder."""
    if description(results, paper).get("title"):
        return description(results, paper)["title"]
    report = results / paper / "report.md"
    if report.is_file():
        lines = report.read_text().splitlines()
        if lines:
            return re.sub(r"^#\s*", "", lines[0]).strip() or paper
    return paper


def plot_alt(results: Path, paper: str | None) -> str:
    """The plot's alt text: its caption (:data:`PLOT_LABEL`), whose table it is, and what it draws (a panel
    per measure, a bar per row, the paper's marks); ``""`` when there is no plot."""
    if not paper or not (results / paper / "ablation.png").is_file():
        return ""
    agg = pd.read_csv(results / paper / "ablation.csv")
    words = metrics_for(results, paper)
    measures = [metric_name(k, words) for k in dict.fromkeys(agg["metric"]) if k in METRICS]
    rows = list(dict.fromkeys(agg["row"].astype(str)))
    text = (f"{PLOT_LABEL}. Bar charts of {title(results, paper)}, one panel per measure"
            + (f" ({', '.join(measures)})" if measures else "")
            + f", one bar per row of the table ({', '.join(rows)}), each the mean over training seeds with its "
            "standard deviation, and a dot for each training run")
    if "paper_mean" in agg and agg["paper_mean"].notna().any():
        text += "; red diamonds: the paper's own numbers, on a separate axis"
    return text + "."


def show(results: Path, paper: str | None):
    """→ (summary, claims, legend, table, plot) for one paper; text as Markdown, the plot a path."""
    if not paper:
        return "No benchmark results found under `results/`.", "", "", "", None
    plot = results / paper / "ablation.png"
    claims = markdown_table(verdicts(results, paper), code=("compares",))
    return (summary(results, paper), "#### The paper's claims, tested\n\n" + claims if claims else "",
            legend(results, paper), "#### Ablation table\n\n" + markdown_table(table(results, paper), code=("row",)),
            str(plot) if plot.is_file() else None)


SHEETS = "samples"  # results/<paper>/samples/<row>.png: the bench's sample sheets, one per row


def sheets(results: Path, paper: str | None) -> list[tuple[str, str, Path]]:
    """(row, what the row is, file) of every sample sheet of a table (``results/<paper>/samples/*.png``), in its
    rows' order (``table.json``), then by name; a row's words are ``""`` when the table does not give them."""
    folder = results / paper / SHEETS if paper else None
    if folder is None or not folder.is_dir():
        return []
    labels = {str(r.get("id")): str(r.get("label") or "") for r in description(results, paper).get("rows", [])
              if isinstance(r, dict)}
    order = {row: i for i, row in enumerate(labels)}
    files = sorted(folder.glob("*.png"), key=lambda f: (order.get(f.stem, len(order)), f.stem))
    return [(f.stem, labels.get(f.stem, ""), f) for f in files]


def sheets_html(results: Path, paper: str | None) -> str:
    """The table's sample sheets as a grid (HTML): each small, loaded only when it scrolls into view, linked to the
    full sheet, with alt text naming the table, the row and what it is; ``""`` when the table has none."""
    found = sheets(results, paper)
    if not found:
        return ""
    name = title(results, paper)
    figures = []
    for row, words, f in found:
        w, h = small_size(*(png_size(f.read_bytes()[:32]) or (480, 480)))
        alt = (f"Sample sheet of row {row} of {name}{': ' + words if words else ''}. A grid of images drawn by the "
               "row's models, each line of the grid labelled on its left.")
        figures.append(f'<figure><a href="{esc(sheet_url(paper, f.name))}" target="_blank" rel="noopener" '
                       f'title="Open the full sheet"><img src="{esc(sheet_url(paper, f.name, small=True))}" '
                       f'loading="lazy" decoding="async" width="{w}" height="{h}" alt="{esc(alt)}"></a>'
                       f"<figcaption><code>{esc(row)}</code>{': ' + esc(words) if words else ''}</figcaption>"
                       "</figure>")
    return ("<h4>Sample sheets</h4><p>What each row's model drew (tap a sheet to open it at full size).</p>"
            f'<div class="sheets" data-count="{len(figures)}">{"".join(figures)}</div>')


FOREST = "forest.png"  # results/forest.png, written by ``python -m bench.index``
FOREST_PHONE = "forest-phone.png"  # the same plot for a phone's width (bench.index), shown on a narrow screen
FOREST_LABEL = "Every claim of every table: its effect ÷ its SESOI, with the 95% interval"


def all_claims(results: Path) -> pd.DataFrame:
    """Every readable ``results/<table>/verdicts.csv`` (tables in :func:`papers`' order) with a ``table``
    column; empty if there is none. A file that cannot be read, or has no ``verdict`` column, is left out."""
    frames = []
    for t in _folders_with(results, "verdicts.csv"):
        try:
            v = pd.read_csv(results / t / "verdicts.csv")
        except (OSError, ValueError):
            continue
        if "verdict" in v and len(v):
            frames.append(v.assign(table=t))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def verdict_counts(claims: pd.DataFrame) -> pd.DataFrame:
    """One line per table, then ``all``: its claims and how many got each verdict (only the verdicts that
    occur, in :data:`VERDICT_WORDS`' order)."""
    if claims.empty:
        return pd.DataFrame()
    found = set(claims["verdict"].astype(str))
    kinds = [k for k in VERDICT_WORDS if k in found] + sorted(found - set(VERDICT_WORDS))
    rows = [(f"`{t}`", g) for t, g in claims.groupby("table", sort=False)] + [("**all**", claims)]
    return pd.DataFrame([{"table": name, "claims": len(g),
                          **{k: int((g["verdict"].astype(str) == k).sum()) for k in kinds}} for name, g in rows])


def forest_alt(claims: pd.DataFrame) -> str:
    """The forest plot's alt text: what it draws, and how many claims got each verdict (from the claims)."""
    text = ("Forest plot of every claim of every table, one line per claim labelled table: claim. Each claim's "
            "difference in the paper's favour is divided by its SESOI (the smallest effect that would matter), "
            "so claims on different measures share one axis: a dot at the effect with its 95% interval, "
            "coloured by verdict; a solid line at 0 and dashed lines at −1 and +1 SESOI; an interval running "
            "off the axis ends in an arrow")
    counts = verdict_counts(claims)
    if not counts.empty:
        total = counts.iloc[-1]
        text += (f". {total['claims']} claims from {len(counts) - 1} tables: "
                 + ", ".join(f"{total[k]} {k}" for k in counts.columns[2:]))
    return text + "."


def overview(results: Path) -> tuple[str, str | None, str]:
    """→ (Markdown, forest plot path or None, its alt text): the index of every claim above the papers;
    ``""`` and None for what is missing."""
    claims = all_claims(results)
    plot = results / FOREST
    counts = markdown_table(verdict_counts(claims))
    if not counts and not plot.is_file():
        return "", None, ""
    text = ["### Every claim of every paper"]
    if counts:
        text.append(f"Verdicts per table ({len(claims)} claims):\n\n{counts}")
    if plot.is_file():
        text.append("The plot below puts every claim on one axis: its difference in the paper's favour and the "
                    "95% interval, divided by its SESOI (the smallest effect that would matter). Right of 0 is "
                    "the paper's way; inside the dashed lines (±1 SESOI) an effect too small to matter; an "
                    "interval wholly outside them, an effect that does. Colour: the verdict.")
    return "\n\n".join(text), (str(plot) if plot.is_file() else None), (forest_alt(claims) if plot.is_file() else "")


def phone_plot(results: Path) -> str | None:
    """``results/forest-phone.png`` (the forest plot drawn for a phone's width), or None without one; shown
    instead of the wide plot only when there is a wide one too."""
    phone = results / FOREST_PHONE
    return str(phone) if phone.is_file() and (results / FOREST).is_file() else None


def claims_in_words(results: Path) -> str:
    """Every claim of every table in plain words: a list per table, under its title, in the tables' order, each
    claim's verdict and then its words; ``""`` when no table has verdicts."""
    claims = all_claims(results)
    if claims.empty:
        return ""
    parts = ["#### Every claim, in words"]
    for t, g in claims.groupby("table", sort=False):
        words = g["text"] if "text" in g else g["claim"]
        parts.append(f"**{title(results, t)}** (`{t}`)\n\n"
                     + "\n".join(f"- *{v}*: {str(w).rstrip('.')}." for v, w in zip(g["verdict"], words)))
    return "\n\n".join(parts)


def _index(results: Path) -> bool:
    """The index of every claim (counts, the forest plot: the phone variant on a narrow screen, the claims in
    words), inside the tab; whether it shows anything."""
    index_text, forest, alt = overview(results)
    phone = phone_plot(results)
    gr.Markdown(index_text, elem_id="results-index", elem_classes="results-table", visible=bool(index_text))
    gr.Image(forest, label=FOREST_LABEL, alt_text=alt, type="filepath", interactive=False, elem_id="results-forest",
             elem_classes="forest-wide" if phone else None, buttons=["fullscreen"], visible=forest is not None)
    gr.Image(phone, label=FOREST_LABEL, alt_text=alt, type="filepath", interactive=False,
             elem_id="results-forest-phone", elem_classes="forest-phone", buttons=["fullscreen"],
             visible=phone is not None)
    every = claims_in_words(results)
    gr.Markdown(every, elem_id="results-every-claim", visible=bool(every))
    return bool(index_text or every)


def build(ctx: Context) -> None:
    results = Path(ctx.results)
    found = papers(results)
    first = show(results, found[0] if found else None)
    with gr.Tab("Results"):
        gr.Markdown("The papers' ablation tables, rerun by this project's benchmark "
                    "(`python -m bench.ablations`) with several training seeds per row.")
        indexed = _index(results)
        gr.Markdown("### One paper at a time", visible=bool(found and indexed))
        choice = gr.Dropdown(found, value=found[0] if found else None, label="Paper", visible=len(found) > 1)
        head = gr.Markdown(first[0], elem_id="results-summary")
        ver = gr.Markdown(first[1], elem_id="results-claims", elem_classes="results-table")
        leg = gr.Markdown(first[2], elem_id="results-legend")
        tbl = gr.Markdown(first[3], elem_id="results-table", elem_classes="results-table")
        img = gr.Image(first[4], label=PLOT_LABEL, alt_text=plot_alt(results, found[0] if found else None),
                       type="filepath", interactive=False, elem_id="results-plot", buttons=["fullscreen"])
        pages = gr.HTML(sheets_html(results, found[0] if found else None), elem_id="results-sheets")
        shown = choice.change(lambda p: show(results, p), [choice], [head, ver, leg, tbl, img], api_name="results")
        choice.change(lambda p: sheets_html(results, p), [choice], [pages], api_visibility="private", queue=False)
        # then the plot's alt text (a step of its own: the API's answer stays the plot's file, not an update)
        shown.then(lambda p: gr.update(alt_text=plot_alt(results, p)), [choice], [img], api_visibility="private",
                   show_progress="hidden", queue=False)


TAB = Tab("Results", build, order=90)

"""``ablation.csv``, ``verdicts.csv``, ``comparisons.csv``, plots, and ``report.md`` / ``report.html`` from
``runs.csv`` (and the seed plan, ``plan.csv``, when one was declared before running).

The report follows PROTOCOL.md §12–§16: it starts with a plain-language summary (which claims held,
which were contradicted, which are inconclusive, which were declared underpowered and what they would
need), states whether one commit and one command regenerate it, gives every claim's verdict on its
declared metric with effect, 95% interval, seeds and minimum detectable effect at 80% power, with the
paper's own metric beside it, and labels the every-claim-on-every-metric table exploratory, with
Holm's correction.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from bench.plots import plot_metrics, sample_sheet
from bench.runs import read_runs
from bench.spec import Row, Table
from bench.stats import (ABSENT, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, REPRODUCED, VERDICTS, aggregate,
                         cell_hours, comparisons, count_verdicts, holm, judge_table, paper_effect_line, plan_total_hours,
                         plan_version, plan_void_reason, read_plan, row_seeds)

PROTOCOL = "../shared/PROTOCOL.md"


def _fmt(mean, std=None, digits=3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    s = f"{mean:.{digits}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        s += f" ± {std:.{digits}f}"
    return s


def _ci(e, lo, hi, digits=3) -> str:
    if e is None or e != e:
        return "–"
    return f"{e:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def _num(x, digits=3) -> str:
    if x is None or x != x:
        return "–"
    return "∞" if math.isinf(x) else f"{x:.{digits}g}"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- provenance

def provenance(runs: pd.DataFrame) -> dict:
    """Where the cells of ``runs`` come from (PROTOCOL.md §6–§7), one entry per cell (row, seed):

    ``cells``; ``commits`` (distinct git SHAs without the ``-dirty`` mark); ``dirty`` (cells from a tree
    with uncommitted changes); ``unknown_sha`` (cells without a SHA); ``fingerprints`` (distinct code
    fingerprints, or None when ``runs`` has no such column) and ``unknown_fingerprint``; ``devices`` and
    ``threads`` (distinct recorded values, None when not recorded); ``single``: one clean commit (and one
    fingerprint, where recorded) for every cell; ``sha`` / ``fingerprint``: that commit and fingerprint."""
    cells = runs.drop_duplicates(["row", "seed"], keep="last") if len(runs) else runs
    sha = cells["git_sha"].astype("string") if "git_sha" in cells else pd.Series([], dtype="string")
    sha = sha.where(sha.notna() & (sha.str.strip() != ""), None)
    known = sha.dropna()
    commits = sorted({s.removesuffix("-dirty") for s in known})
    dirty = int(known.str.endswith("-dirty").sum())
    info = {"cells": len(cells), "commits": commits, "dirty": dirty, "unknown_sha": int(sha.isna().sum()),
            "fingerprints": None, "unknown_fingerprint": 0, "devices": None, "threads": None}
    fp_ok = True
    if "code_fingerprint" in cells:
        fp = cells["code_fingerprint"].astype("string")
        fp = fp.where(fp.notna() & (fp.str.strip() != ""), None)
        info["fingerprints"] = sorted(set(fp.dropna()))
        info["unknown_fingerprint"] = int(fp.isna().sum())
        fp_ok = len(info["fingerprints"]) == 1 and info["unknown_fingerprint"] == 0
    for col, key in (("device", "devices"), ("threads", "threads")):
        if col in cells:
            v = cells[col].dropna().astype(str)
            info[key] = sorted(set(v)) + (["unrecorded"] if cells[col].isna().any() else [])
    info["single"] = bool(len(cells) and len(commits) == 1 and dirty == 0 and info["unknown_sha"] == 0 and fp_ok)
    info["sha"] = commits[0] if info["single"] else None
    info["fingerprint"] = info["fingerprints"][0] if info["single"] and info["fingerprints"] else None
    return info


def _provenance_lines(p: dict) -> tuple[str, list[str]]:
    """(the "- Code:" line, a prominent warning for the summary or [])."""
    if not p["cells"]:
        return "- Code: no cells yet", []
    if p["single"]:
        fp = f", code fingerprint `{p['fingerprint']}`" if p["fingerprint"] else ""
        return (f"- Code: every cell comes from commit `{p['sha']}`{fp}, on a clean tree; `git checkout {p['sha']}` "
                "and the command under *Reproduce* regenerate this report", [])
    why = [f"{len(p['commits'])} commit{'s' if len(p['commits']) != 1 else ''}"]
    if p["dirty"]:
        why.append(f"{p['dirty']} of {p['cells']} cells from a tree with uncommitted changes")
    if p["unknown_sha"]:
        why.append(f"{p['unknown_sha']} cells without a recorded commit")
    if p["fingerprints"] is not None:
        if len(p["fingerprints"]) > 1:
            why.append(f"{len(p['fingerprints'])} code fingerprints")
        if p["unknown_fingerprint"]:
            why.append(f"{p['unknown_fingerprint']} cells without a code fingerprint")
    what = "; ".join(why)
    line = (f"- Code: **not one clean commit** — the {p['cells']} cells come from {what}. No single commit and "
            "command regenerate these numbers")
    warn = [f"> **Not reproducible from one commit.** The {p['cells']} cells of this table come from {what}, so "
            "no single commit and command regenerate them (PROTOCOL.md §6). Read every number below as a pilot "
            "until the table is rerun from one clean commit.", ""]
    return line, warn


def _device_lines(p: dict) -> tuple[str | None, list[str]]:
    if not p["cells"]:
        return None, []
    if p["devices"] is None and p["threads"] is None:
        return "- Device kind and torch threads per cell: not recorded in `runs.csv` (PROTOCOL.md §7)", []
    dev = ", ".join(p["devices"] or ["unrecorded"])
    thr = ", ".join(p["threads"] or ["unrecorded"])
    line = f"- Device kind: {dev}; torch threads per cell: {thr}"
    mixed = len(p["devices"] or []) > 1 or len(p["threads"] or []) > 1
    unrec = "unrecorded" in (p["devices"] or ["unrecorded"]) + (p["threads"] or ["unrecorded"])
    if mixed or unrec:
        return line + " — **not one device kind and one thread count** (PROTOCOL.md §7)", [
            f"> **Mixed or unrecorded devices / thread counts** ({dev}; threads {thr}): float results depend on "
            "both, so cells of this table are not all comparable bit for bit (PROTOCOL.md §7).", ""]
    return line, []


# ---------------------------------------------------------------------------------------------- outputs

def write_outputs(table: Table, rows: list[Row], args, out: Path, command: str, wall_time_s: float,
                  n_seeds: int, machine: str, plan: pd.DataFrame | str | Path | None = None,
                  health: dict[str, list[str]] | None = None, references: dict[str, float] | None = None,
                  definitions: dict | None = None, judged_by: str | None = None) -> dict:
    """Write every output of a table's directory ``out`` from its ``runs.csv`` (PROTOCOL.md version 2).

    - ``plan``: the seed plan declared before running (a frame from :func:`bench.stats.plan_table`, or the
      path of its CSV); by default ``out/plan.csv`` when it exists. Its label stands beside each verdict.
    - ``health``: ``{row: [failing gates]}``; by default from ``out/health.csv`` (``bench.health``).
    - ``references``: the real data's value per metric for two-sided claims; by default ``out/references.csv``.
    - ``definitions``: today's row and metric fingerprints (``bench.cells.definitions``), to tell whether the
      plan still holds; without them a v2 plan is taken as it is.
    - ``judged_by``: the command and commit that judged these cells, when not the ones that made them
      (``--report-only``).
    Returns the frames written.
    """
    out = Path(out)
    runs = read_runs(out / "runs.csv")
    values = runs[runs["metric"] != "__failed__"]
    if plan is None:
        plan = read_plan(out / "plan.csv")
    elif not isinstance(plan, pd.DataFrame):
        plan = read_plan(Path(plan))
    health_frame = None
    if health is None:
        health, health_frame = _read_health(out / "health.csv")
    if references is None:
        references = _read_references(out / "references.csv")
    void = plan_void_reason(plan, definitions) if definitions is not None or plan_version(plan) == 1 else ""
    paper = {r.id: r.paper for r in rows}
    agg = aggregate(values, paper)
    agg.to_csv(out / "ablation.csv", index=False)
    verdicts = judge_table(table, values, plan=plan, health=health, references=references, plan_void=void)
    beside = pd.DataFrame([paper_effect_line(c, values, table.paper_metric, verdicts.iloc[i].to_dict())
                           for i, c in enumerate(table.claims)], index=verdicts.index)
    for k in beside.columns:
        verdicts[k] = beside[k]
    verdicts.to_csv(out / "verdicts.csv", index=False)
    cmp = [comparisons(c, values, references=references) for c in table.claims]
    cmp = pd.concat(cmp, ignore_index=True) if cmp else pd.DataFrame()
    cmp.to_csv(out / "comparisons.csv", index=False)
    order = [r.id for r in rows]
    plots = []
    if not values.dropna(subset=["value"]).empty:
        shown = values[values["metric"].isin(table.display) | values["metric"].str.startswith("inception_fid")]
        plots.append(plot_metrics(shown, order, paper, out / "ablation.png"))
    # one sample sheet per row, from the first training seed's model (seed 0, or a confirmatory run's first
    # seed): the same test items' conditions (captions, labels, structure maps; none for an unconditional
    # model) and the same noise seeds for every row
    sheets = {}
    first_seed = int(values["seed"].min()) if len(values) else 0
    for row in rows:
        ck = values[(values["row"] == row.id) & (values["seed"] == first_seed)]["checkpoint"].dropna()
        if not len(ck):  # no finished cell of that seed (e.g. removed from runs.csv): drop any older sheet
            (out / "samples" / f"{row.id}.png").unlink(missing_ok=True)
        else:
            try:
                sheets[row.id] = sample_sheet(out / ck.iloc[0], [0, 1, 2, 3], out / "samples" / f"{row.id}.png")
            except FileNotFoundError:  # the checkpoint lives on another machine: keep a sheet drawn there
                if (out / "samples" / f"{row.id}.png").is_file():
                    sheets[row.id] = out / "samples" / f"{row.id}.png"
    cells = runs.drop_duplicates(["row", "seed"])
    failed = runs[runs["metric"] == "__failed__"]
    total_wall = float(cells["wall_time_s"].sum()) if len(cells) else 0.0
    text = _report_md(table, rows, args, agg, verdicts, command, total_wall, wall_time_s, n_seeds, machine,
                      plots, sheets, out, failed, runs, cells, plan=plan, cmp=cmp, health=health,
                      health_frame=health_frame, references=references, plan_void=void, judged_by=judged_by)
    (out / "report.md").write_text(text)
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(text)
    (out / "report.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>" + table.title + "</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px}img{max-width:100%}"
        "blockquote{border-left:4px solid #c33;margin-left:0;padding-left:1em}</style>" + html)
    return {"ablation": agg, "verdicts": verdicts, "comparisons": cmp, "plan": plan}


def _read_health(path: Path) -> tuple[dict[str, list[str]], pd.DataFrame | None]:
    """({row: failing gates}, the health.csv frame) when ``path`` exists; ({}, None) otherwise."""
    if not path.is_file():
        return {}, None
    from bench.health import read_health, unhealthy_rows

    frame = read_health(path)
    return (unhealthy_rows(frame) if frame is not None else {}), frame


def _read_references(path: Path) -> dict[str, float]:
    """{metric: the real data's value} from references.csv, or {} when there is none."""
    if not path.is_file():
        return {}
    ref = pd.read_csv(path)
    return {str(m): float(v) for m, v in zip(ref["metric"], ref["value"]) if v == v}


def readme_line(paper: str, report: Path, readme_dir: Path) -> str:
    """One line for the top-level README: the table, its verdict counts (its ``verdicts.csv``, one verdict per
    claim and rival), the unhealthy rows of its ``health.csv``, and the report to read."""
    folder = report.parent
    link = os.path.relpath(report, readme_dir)
    parts = [f"**`{paper}`**: [{link}]({link})"]
    verdicts = folder / "verdicts.csv"
    if verdicts.is_file():
        v = pd.read_csv(verdicts)
        counts = v["verdict"].value_counts()
        parts.append(f"{v['claim'].nunique()} claims; verdicts " +
                     ", ".join(f"{n} {name}" for name, n in counts.items()))
    health = folder / "health.csv"
    if health.is_file():
        h = pd.read_csv(health)
        failed = sorted(set(h.loc[h["passed"].astype(str) == "False", "row"]))
        parts.append(f"rows failing a health gate on val: {', '.join(f'`{r}`' for r in failed)}" if failed
                     else "every measured row passes its health gates on val")
    return "; ".join(parts) + "."


def update_readme(readme: Path, paper: str, report: Path) -> bool:
    """Write the table's one line (:func:`readme_line`) into ``readme`` between the markers
    ``<!-- <paper>-results:start -->`` and ``<!-- <paper>-results:end -->``: the README carries one line per
    table, and the report and the results index carry the rest (issue #29). Returns False (and changes
    nothing) when the README has no such markers."""
    start, end = f"<!-- {paper}-results:start -->", f"<!-- {paper}-results:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        return False
    block = "\n".join([start, "- " + readme_line(paper, report, readme.parent), end])
    readme.write_text(text.split(start, 1)[0] + block + text.split(end, 1)[1])
    return True


# ---------------------------------------------------------------------------------------------- sections

def _claims_on_every_metric(table: Table, runs: pd.DataFrame, metrics: list[str], alpha: float = 0.05) -> list[str]:
    """The comparisons of the claims, one line per (claim, rival), on every displayed metric: effect
    [95% CI], in bold where the Holm-adjusted p-value (over every interval of this table) is below
    ``alpha``. Exploratory: the verdicts use only each claim's declared metric."""
    present = set(runs["metric"]) if len(runs) else set()
    others = [m for m in metrics if m in present]
    if not table.claims or not others:
        return []
    lines, seen = [], set()  # (label, {metric: comparison})
    for c in table.claims:
        for rival in c.worse:
            key = (c.better, rival, c.paired)
            if key in seen:  # a claim restated on another metric: the same comparison
                continue
            seen.add(key)
            label = c.text if len(c.worse) == 1 else f"{c.text} — vs `{rival}`"
            line = {}
            for m in others:
                v = comparisons(type(c)(c.id, c.text, c.better, (rival,), m, paired=c.paired), runs).iloc[0]
                line[m] = v
            lines.append((label, line))
    flat = [(i, m, v) for i, (_, line) in enumerate(lines) for m, v in line.items()
            if v["n"] >= 2 and v["effect"] == v["effect"] and v["p"] == v["p"]]
    adj = holm([v["p"] for _, _, v in flat])
    adj_of = {(i, m): a for (i, m, _), a in zip(flat, adj)}
    tested = len(flat)
    raw = sum(1 for _, _, v in flat if v["p"] < alpha)
    survive = int(np.sum(adj < alpha)) if tested else 0
    body = []
    for i, (label, line) in enumerate(lines):
        cells = [label]
        for m in others:
            v = line[m]
            if (i, m) not in adj_of:
                cells.append("–")
                continue
            cell = _ci(v["effect"], v["ci_low"], v["ci_high"])
            cells.append(f"**{cell}**" if adj_of[(i, m)] < alpha else cell)
        body.append(cells)
    return ["### Every claim on every metric (exploratory)", "",
            "**Exploratory, not verdicts.** The same comparisons (one line per claim and rival) on every metric of "
            "the table, signed so that positive means \"as the paper claims\" (lower FID and KID count as better; "
            f"higher diversity counts as better). These are {tested} intervals, so about {0.05 * tested:.0f} could "
            f"exclude zero by chance alone at the unadjusted 5% level; {raw} do. In bold: the {survive} of {tested} "
            "whose difference survives Holm's correction for all of them (Holm-adjusted p < 0.05). They describe "
            "the measurements; the verdicts above use only each claim's declared metric.", "",
            md_table(["claim", *others], body), ""]


PLAN_HEADER = ["claim", "declared metric", "SESOI", "seed sd (pooled)", "seeds needed", "seeds planned",
               "MDE at those seeds", "power each", "core-hours", "plan", "note"]


def _plan_rows(plan: pd.DataFrame, table: Table) -> list[list[str]]:
    text = {c.id: c.text for c in table.claims}
    body = []
    for p in plan.itertuples():
        need = float(p.seeds_needed)
        label = ("**not testable**: " + str(p.not_testable)) if str(p.not_testable or "") else (
            "**underpowered**" if p.underpowered else "powered")
        body.append([text.get(p.claim, p.claim), p.metric + (" (paired)" if p.paired else ""), _num(p.sesoi),
                     _num(p.sd), "∞" if math.isinf(need) else _num(need, 6), int(p.seeds), _num(p.mde_at_seeds),
                     f"{p.power_each:.3g}", _num(p.cost_core_h), label, str(p.note or "")])
    return body


def _item(v) -> str:
    s = f"*{v['text']}* ({v['metric']}: {_ci(v['effect'], v['ci_low'], v['ci_high'])}, {int(v['n'])} seeds"
    if "," in str(v["worse"]):
        s += f", deciding rival `{v['rival']}`"
    return s + f"; {_plan_label(v)})"


def _plan_label(v) -> str:
    status = str(v.get("plan_status", "") or "no plan")
    mde_txt = f"MDE {_num(v['mde'])}" if v["mde"] == v["mde"] else "no MDE"
    return f"{mde_txt} at these seeds; {status}"


def _summary(table, rows, args, verdicts, plan, runs, prov_warn, dev_warn, seed_warn, health, health_frame,
             plan_void) -> list[str]:
    parts = ["## Summary", ""] + prov_warn + dev_warn + seed_warn
    k = len(verdicts)
    if not k:
        return parts + ["This table declares no claims.", ""]
    from bench.health import unmeasured_rows

    by = {x: [v for _, v in verdicts.iterrows() if v["verdict"] == x] for x in VERDICTS}
    # rule 17: first the unhealthy rows and the claims that cannot be tested
    gated = [r for r in rows if r.gates]
    if health:
        parts.append("- **Unhealthy rows** (a failing health gate on `val`; they test nothing): "
                     + "; ".join(f"`{r}` — {', '.join(g)}" for r, g in health.items()) + ".")
    elif health_frame is None:
        parts.append(f"- **Health gates** (PROTOCOL.md rule 6; {len(gated)} of {len(rows)} rows declare them): "
                     "**not measured** on the `val` split — `health.csv` is missing, so no row is known to be healthy "
                     "or unhealthy. Measure them with `python -m bench.ablations --paper "
                     f"{table.paper} --health` on the pilot's cells.")
    else:
        unknown = unmeasured_rows(health_frame)
        if len(unknown) < len(set(health_frame["row"])):
            parts.append("- **Health gates:** every measured row passes (`health.csv`).")
    if health_frame is not None:
        if unknown := unmeasured_rows(health_frame):
            parts.append("- **Health not measured** (neither known healthy nor unhealthy; the verdicts below assume "
                         "they are healthy): " + ", ".join(f"`{r}`" for r in unknown) + ".")
    parts.append("- **Not testable:** " + ("; ".join(f"*{v['text']}* — {v['why']}" for v in by[NOT_TESTABLE])
                                            or "none") + ".")
    pm = table.paper_metric
    counts = count_verdicts(verdicts)
    parts += ["", f"Each of the {k} claims is judged on the metric its table file declares, before running, for the "
              f"mechanism the paper gives; the paper's own metric ({pm}) is reported beside it and never replaces "
              "it. Effects are signed so that positive means \"as the paper says\"; intervals are 95%; p-values are "
              "Holm-adjusted across the table's testable claims (PROTOCOL.md rule 15). Verdicts: "
              + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n or kind in VERDICTS) + ".", ""]
    parts.append("- **Reproduced:** " + ("; ".join(map(_item, by[REPRODUCED])) or "none") + ".")
    parts.append("- **Contradicted** (the measurements go the other way): "
                 + ("; ".join(map(_item, by[CONTRADICTED])) or "none") + ".")
    parts.append("- **Absent** (inside ±SESOI by the equivalence test: no effect of a size that matters): "
                 + ("; ".join(map(_item, by[ABSENT])) or "none") + ".")
    inc = []
    for v in by[INCONCLUSIVE]:
        s = _item(v)
        if "guard fails" in str(v["why"]):
            s += " — favours the claim, but its guard fails"
        inc.append(s)
    parts.append("- **Inconclusive** (neither shown nor shown absent, or a guard fails): " + ("; ".join(inc) or "none")
                 + ".")
    if plan is None:
        parts.append("- **Plan:** none was declared before these cells ran, so nothing was sized to a SESOI; the MDE "
                     "beside each claim says what these seeds can detect.")
    elif plan_version(plan) < 2:
        parts.append("- **Plan:** the seed plan these cells ran under (`plan.csv`) predates protocol version 2: it sized "
                     "seeds by the pilot's observed effect and has no fingerprint, so it is void now. Its label is shown "
                     "beside each verdict for the record; it changes no verdict. A SESOI-based plan needs a pilot made "
                     "under today's definitions.")
    else:
        hours = cell_hours(runs)
        total = plan_total_hours(plan, hours)
        under = plan[plan["underpowered"].astype(bool)]
        parts.append(f"- **Plan** (`plan.csv`, declared before running; cap {float(plan['cap_core_h'].max()):g} "
                     f"core-hours, {plan['design'].iloc[0]}): {len(plan) - len(under)} of {len(plan)} claims funded to "
                     f"detect their SESOI with 80% power; ≈ {_num(total)} core-hours in all"
                     + (f"; underpowered: {', '.join(under['claim'])}" if len(under) else "") + "."
                     + (f" **The plan is void:** {plan_void}." if plan_void else ""))
    if by[CONTRADICTED] or by[INCONCLUSIVE] or by[ABSENT] or by[NOT_TESTABLE]:
        parts.append(f"- Where a claim did not reproduce, the likely reasons are hypotheses this run does not test: "
                     f"a failing health gate, a metric at its floor, the training budget (preset "
                     f"`{getattr(args, 'preset', '?')}`), the data (`{getattr(args, 'dataset', table.dataset)}`, not "
                     "the paper's), and the resolution; see the notes under *Run*. Nothing here was tuned toward the "
                     "paper's numbers.")
    return parts + [""]


def _report_md(table, rows, args, agg, verdicts, command, total_wall, this_wall, n_seeds, machine, plots, sheets,
               out, failed, runs, cells, plan=None, cmp=None, health=None, health_frame=None, references=None,
               plan_void="", judged_by=None) -> str:
    """The text of ``report.md``: the summary, then one section after another (PROTOCOL.md §12–§16)."""
    metrics = _report_metrics(table, agg)
    values = runs[runs["metric"] != "__failed__"] if len(runs) else runs
    prov = provenance(values)
    code_line, prov_warn = _provenance_lines(prov)
    dev_line, dev_warn = _device_lines(prov)
    seed_warn = _seed_warnings(table, plan, cells)
    parts = [f"# {table.title}", ""]
    parts += _summary(table, rows, args, verdicts, plan, runs, prov_warn, dev_warn, seed_warn, health or {},
                      health_frame, plan_void)
    parts += _run_section(rows, args, command, machine, n_seeds, cells, failed, total_wall, this_wall,
                          code_line=code_line, dev_line=dev_line, references=references, judged_by=judged_by)
    notes = table.notes(args.preset, args.dataset)
    if notes:
        parts += [notes, ""]
    parts += _table_section(table, rows, agg, metrics)
    parts += _claims_section(table, verdicts, plan, cmp)
    parts += _health_section(table, rows, health_frame)
    parts += _plan_section(table, plan, plan_void)
    parts += _claims_on_every_metric(table, values, metrics)
    parts += _figures_section(plots, sheets, cells, out)
    parts += _failed_section(failed)
    parts += _reproduce_section(prov, command, judged_by)
    return "\n".join(parts) + "\n"


def _report_metrics(table, agg) -> list[str]:
    """The metric columns of the report's table: the table's displayed ones that were measured, the paper's
    metric first where it is not among them, then any standard-Inception scores."""
    present = set(agg["metric"]) if len(agg) else set()
    metrics = [m for m in table.display if m in present] + sorted(
        m for m in present if m.startswith("inception_") and m.endswith(("fid", "kid_mean", "is_mean")))
    if table.paper_metric in present and table.paper_metric not in metrics:
        metrics.insert(0, table.paper_metric)
    return metrics


def _seed_warnings(table, plan, cells) -> list[str]:
    """Warnings that the cells reuse the pilot's training seeds, or that a claim's declared metric changed
    after planning (PROTOCOL.md §1, §4); [] when there is no plan or nothing to warn of."""
    if plan is None or "pilot_seeds" not in plan or not len(cells):
        return []
    warn = []
    pilot = {int(x) for s in plan["pilot_seeds"].dropna().astype(str) for x in s.split() if x.strip().isdigit()}
    reused = sorted(pilot & {int(s) for s in cells["seed"]})
    if reused:
        warn = [f"> **These cells reuse the pilot's training seeds** ({', '.join(map(str, reused))}): the "
                "pilot chose the metrics and seed counts, so it cannot also be the evidence "
                "(PROTOCOL.md §4).", ""]
    changed = [c.id for c in table.claims if c.id in set(plan["claim"])
               and str(plan.loc[plan["claim"] == c.id, "metric"].iloc[-1]) != c.metric]
    if changed:
        warn += [f"> **Declared metric changed after planning** for {', '.join(changed)}: the plan was made "
                 "on another metric (PROTOCOL.md §1).", ""]
    return warn


def _run_section(rows, args, command, machine, n_seeds, cells, failed, total_wall, this_wall, *, code_line,
                 dev_line, references, judged_by) -> list[str]:
    """*Run*: the command, preset, data, seeds, machine, cells finished, wall times and where the code came from."""
    seeds_run = sorted({int(s) for s in cells["seed"]}) if len(cells) else []
    seed_txt = (f"{n_seeds} ({seeds_run[0]}–{seeds_run[-1]})" if seeds_run else str(n_seeds))
    parts = ["## Run", "",
             f"- Command: `{command}`",
             f"- Preset: `{args.preset}`; dataset: `{args.dataset}`; training seeds: {seed_txt}",
             f"- Machine: {machine}",
             f"- Cells finished: {len(cells) - len(failed.drop_duplicates(['row', 'seed']))} of "
             f"{len(rows) * n_seeds} ({len(rows)} rows × {n_seeds} seeds)"
             + ("" if len(cells) >= len(rows) * n_seeds else
                " — **partial**: rerun the command above (with `--resume`) to continue; verdicts use what has finished"),
             f"- Total wall time of all cells: {total_wall / 60:.1f} min (this invocation: {this_wall / 60:.1f} min)",
             _wall_per_seed_line(rows, cells),
             code_line]
    if judged_by:
        parts[-1] = parts[-1].replace("regenerate this report", "regenerate these cells")
        parts.append(f"- Verdicts: judged from these cells under PROTOCOL.md version 2 by {judged_by}; the cells "
                     "themselves come from the commit above")
    if references:
        parts.append("- Real-data references (`references.csv`, for two-sided metrics): "
                     + ", ".join(f"{m} {v:.4g}" for m, v in references.items()))
    if dev_line:
        parts.append(dev_line)
    return parts + [""]


def _wall_per_seed_line(rows, cells) -> str:
    """The wall time of each seed of the whole table and, when every row has a cell, at each row's fastest."""
    return ("- Wall time per seed (sum of its cells, i.e. one seed of the whole table): " + ", ".join(
        f"seed {int(s)}: {g['wall_time_s'].sum() / 60:.1f} min ({len(g)} of {len(rows)} cells)"
        for s, g in cells.groupby("seed"))
            + (f"; at each row's fastest measured cell: {cells.groupby('row')['wall_time_s'].min().sum() / 60:.1f} min"
               if len(cells) and cells["row"].nunique() == len(rows) else ""))


def _table_section(table, rows, agg, metrics) -> list[str]:
    """*Table*: mean ± sd over seeds of every row on ``metrics``, the row's parameters and the paper's number."""
    parts = ["## Table", "", f"Mean ± sd over training seeds (n = seeds that finished). The paper's numbers are "
             f"{table.paper_scores}; ours are scored by our own classifier on our data, so compare directions and "
             "gaps, not absolute values.", ""]
    header = ["row", "method", *[k for k in (rows[0].params if rows else {})], *metrics, "n",
              f"paper ({table.paper_metric})"]
    body = []
    for r in rows:
        a = agg[agg["row"] == r.id]
        row_cells = []
        for m in metrics:
            x = a[a["metric"] == m]
            row_cells.append(_fmt(x["mean"].iloc[0], x["std"].iloc[0]) if len(x) else "–")
        n = int(a["n"].max()) if len(a) else 0
        p = r.paper.get(table.paper_metric)
        body.append([f"`{r.id}`", r.label, *[str(v) for v in r.params.values()], *row_cells, n,
                     _fmt(*p, digits=2) if p else "–"])
    return parts + [md_table(header, body), ""]


def _plan_section(table, plan, plan_void) -> list[str]:
    """*Seed plan*: the plan these cells ran under, as written (version 1, void) or per claim (version 2)."""
    if plan is None or not len(plan):
        return []
    parts = ["## Seed plan", ""]
    if plan_version(plan) < 2:
        kept = [c for c in plan.columns if c in ("claim", "metric", "seeds", "underpowered")]
        return parts + ["The plan these cells ran under (`plan.csv`) was made under protocol version 1: it sized each "
                        "claim's seeds by the pilot's *observed* effect, capped per table, with no SESOI and no "
                        "fingerprint of the row and metric definitions. Under version 2 it is void; its labels are "
                        "kept beside the verdicts for the record. Columns as it was written:", "",
                        md_table([str(c) for c in kept], [[str(getattr(p, c)) for c in kept]
                                                          for p in plan.itertuples()]), ""]
    return parts + ["Declared before these cells ran (`plan.csv`; pilot seeds "
                    + ", ".join(sorted({s for s in plan["pilot_seeds"].dropna().astype(str)})) + "). The pilot gave "
                    "only the spread: each metric's seed sd pooled over the rows scored on it (√2 × that for a "
                    "paired claim). Each claim gets the fewest seeds per row, at least 4, whose t test (two-sided, "
                    f"α = {float(plan['alpha'].iloc[0]):g}) detects its declared SESOI with 80% power on every "
                    "interval it must clear (each at 1 − 0.2/k), funded cheapest first within the table's cap in "
                    "core-hours; a claim left unfunded is *underpowered*, runs at the seeds its rows get and still "
                    "gets a verdict." + (f" **Void:** {plan_void}." if plan_void else ""), "",
                    md_table(PLAN_HEADER, _plan_rows(plan, table)), ""]


def _figures_section(plots, sheets, cells, out) -> list[str]:
    """*Plots* and *Samples*: the images written beside the report, linked relative to ``out``."""
    parts = []
    if plots:
        parts += ["## Plots", ""] + [f"![{p.stem}]({p.relative_to(out)})" for p in plots] + [""]
    if sheets:
        first = int(cells["seed"].min()) if len(cells) else 0
        parts += ["## Samples", "", f"The seed-{first} model of each row (the first training seed); the same "
                  "captions and noise seeds (0–3) in every sheet."
                  " Stacked rows show the Stage-I image left of each final image.", ""]
        for rid, p in sheets.items():
            parts += [f"**`{rid}`**", "", f"![{rid}]({p.relative_to(out)})", ""]
    return parts


def _failed_section(failed) -> list[str]:
    """*Failed cells*: each failed (row, seed) with its error; [] when none failed."""
    if not len(failed):
        return []
    return ["## Failed cells", ""] + [f"- `{r.row}` seed {int(r.seed)}: {r.error}" for r in failed.itertuples()] + [""]


def _reproduce_section(prov, command, judged_by) -> list[str]:
    """*Reproduce*: the commit and command that regenerate the cells, or a warning when no one commit does."""
    parts = ["## Reproduce", ""]
    if prov["single"]:
        parts += ["```bash", f"git checkout {prov['sha']}", command, "```", ""]
        if judged_by:
            parts += [f"makes the cells; the verdicts above were judged from them by {judged_by}.", ""]
    else:
        parts += ["```bash", command, "```", "",
                  "**This command does not regenerate the numbers above**: their cells come from several code states "
                  "(see *Code* under *Run*). It reruns the table under today's code.", ""]
    return parts + ["Every number above comes from `runs.csv` (one line per row, seed and metric, with the git SHA, "
                    "code fingerprint, device, checkpoint and wall time); `ablation.csv`, `verdicts.csv` and "
                    "`comparisons.csv` are computed from it, with the seed plan in `plan.csv` where one was declared."]


def _health_section(table, rows, health_frame) -> list[str]:
    """The gates each row declares and, where ``health.csv`` measured them, the numbers (rule 6)."""
    if not any(r.gates for r in rows):
        return []
    parts = ["## Health gates", "", "Declared per row in the table file before looking (PROTOCOL.md rule 6), measured "
             "on the `val` split at the pilot. A row that fails one gets no confirmatory seeds, and its claims are "
             "*not testable*.", ""]
    if health_frame is None:
        names = sorted({g.name for r in rows for g in r.gates})
        return parts + ["**Not measured** (no `health.csv`): the gates are " + "; ".join(f"`{n}`" for n in names)
                        + ". Every verdict below is therefore conditional on healthy rows.", ""]
    body = [[f"`{h.row}`", h.gate, _num(h.value), _num(h.threshold),
             "yes" if str(h.passed).lower() == "true" else ("**no**" if str(h.passed).lower() == "false" else "–"),
             str(h.note) if h.note == h.note else ""] for h in health_frame.itertuples()]
    return parts + [md_table(["row", "gate", "value", "threshold", "passed", "note"], body), ""]


def _true(x) -> bool:
    return str(x).lower() in ("true", "1")


def _claims_section(table, verdicts, plan, cmp) -> list[str]:
    pm = table.paper_metric
    parts = ["## Claims", "",
             "Each claim is judged on its **declared metric** (chosen before running from the paper's mechanism; "
             f"*why* below), with the paper's own metric ({pm}) beside it. Effect = difference of seed means in the "
             "claim's direction (positive = as the paper says), with a 95% Welch t interval across training seeds "
             "(a paired t on per-seed differences where the claim declares it). A claim against several rivals must "
             "beat every one (intersection–union): the effect shown is the rival that decides the verdict, and every "
             "rival is listed under *Every interval*. Each claim's p-value (the largest over its rivals; for a loss, "
             "the smallest times their number) is Holm-adjusted across the table's testable claims, and so is its "
             "equivalence test against ±SESOI (TOST). Verdict (PROTOCOL.md rule 15): *reproduced* if the adjusted "
             "test puts the effect above zero and every non-inferiority guard holds; *contradicted* if it puts it "
             "below zero; *absent* if the adjusted TOST puts it inside ±SESOI; *not testable* if a compared row "
             "failed a health gate or the metric sits at its floor in every compared row; *inconclusive* otherwise. "
             "A metric declared *toward real* (two-sided, rule 12) is judged as each seed's distance to the real "
             "data's value. The plan's label and the MDE at the seeds run stand beside the verdict, never instead "
             "of it.", ""]
    vb = []
    for _, v in verdicts.iterrows():
        worse = [r.strip() for r in str(v["worse"]).split(",")]
        rivals = ", ".join(f"`{r}`" for r in worse)
        comp = f"`{v['better']}` vs " + (rivals if len(worse) == 1 else f"every of {rivals} (deciding: `{v['rival']}`)")
        seeds = str(int(v["n"]))
        if v.get("planned_seeds") == v.get("planned_seeds") and v.get("planned_seeds") is not None:
            seeds += f" (planned {int(v['planned_seeds'])})"
        same = v.get("paper_metric") == v["metric"] and not _true(v.get("toward_real"))
        paper_cell = "same" if same else _ci(
            v.get("paper_effect", np.nan), v.get("paper_ci_low", np.nan), v.get("paper_ci_high", np.nan))
        metric = v["metric"] + (f" (distance to real {_num(v['real_value'])})" if _true(v.get("toward_real")) else "")
        vb.append([v["text"], comp, metric, _ci(v["effect"], v["ci_low"], v["ci_high"]), _num(v["p_adj"]),
                   _num(v["sesoi"]), _num(v["p_tost_adj"]), seeds, _num(v["mde"]), str(v.get("plan_status", "")),
                   f"**{v['verdict']}**", paper_cell, v["why"]])
    parts += [md_table(["claim", "comparison", "declared metric", "effect [95% CI]", "p (Holm)", "SESOI",
                        "TOST p (Holm)", "seeds", "MDE (80% power)", "plan",
                        "verdict", f"{pm} (paper's metric) [95% CI]", "why"], vb), "",
              "*MDE* is the minimum detectable effect: the true effect that these seeds, at the measured seed-to-seed "
              "spread, detect with 80% power (two-sided t, α = 0.05; for a claim with k intervals to clear, each at "
              "1 − 0.2/k, so that the claim as a whole has 80%). An observed effect well below it says little either "
              "way. The interval's half-width (the former *resolvable* column) is an effect detected only about "
              "half the time; the MDE is larger (about 1.4× it with many seeds).", ""]
    why = []
    for c in table.claims:
        g = "".join(f"; guard: `{m}` may not fall by more than {margin:g} (non-inferiority)" for m, margin in c.guards)
        sesoi = (f"; SESOI {c.sesoi:g}: {c.sesoi_why or 'no reason given'}" if c.sesoi is not None
                 else "; **no SESOI declared**")
        two = "; judged as distance to the real data's value (two-sided, rule 12)" if c.toward_real else ""
        why.append(f"- *{c.text}* — `{c.metric}`" + (" (paired by seed)" if c.paired else "") + ": "
                   + (c.why or "**no mechanism declared in the table file**") + g + sesoi + two)
    parts += ["### Why these metrics", "", *why, ""]
    if cmp is not None and len(cmp) and (cmp["kind"].eq("guard").any() or cmp.groupby("claim").size().gt(1).any()):
        text = {c.id: c.text for c in table.claims}
        multi = cmp.groupby("claim").filter(lambda d: len(d) > 1)
        body = []
        for r in multi.itertuples():
            if r.kind == "guard":
                holds = "yes" if r.holds else "**no**"
            else:
                holds = "above 0" if r.ci_low > 0 else "below 0" if r.ci_high < 0 else "contains 0"
            body.append([text.get(r.claim, r.claim), r.kind + (f" (margin {r.margin:g})" if r.kind == "guard" else ""),
                         f"`{r.rival}`", r.metric, _ci(r.effect, r.ci_low, r.ci_high), int(r.n), _num(r.mde), holds])
        parts += ["### Every interval the verdicts rest on", "",
                  "Claims with several rivals or with guards: each rival judged separately on the declared metric "
                  "(*claim*), and each guard against each rival (holds when the interval's lower end lies above "
                  "−margin).", "",
                  md_table(["claim", "interval", "rival", "metric", "effect [95% CI]", "seeds", "MDE", "result"], body),
                  ""]
    return parts

"""Aggregation across training seeds, verdicts on claims, power, seed planning and Holm's correction.

The rules are PROTOCOL.md §4, §5 and §12–§14:

- **One comparison** "A beats B on metric m" is the difference of per-seed means, signed so that
  positive means "as the paper claims" (lower-is-better metrics such as FID are flipped), with a 95%
  Welch t interval; or, when the claim declares ``paired``, a paired t interval on the per-seed
  differences of the seeds both rows have (blocked by seed).
- **A claim against several rivals** must clear every one (intersection–union): *reproduced* only when
  every rival's interval lies above zero and every non-inferiority guard holds against every rival
  (the lower end of the guard metric's interval above ``-margin``); *contradicted* when any rival's
  interval lies wholly below zero; *inconclusive* otherwise (including fewer than two seeds per row).
- **Power.** The minimum detectable effect (MDE) is the effect a two-sided α = 0.05 t test detects with
  80% power, from the exact noncentral t (two-sample with a pooled sd; paired from the sd of per-seed
  differences). A claim that needs k intervals to clear (``Claim.comparisons``) plans each at power
  ``1 − 0.2/k``, so that by Bonferroni's inequality all k clear together with at least 80% probability;
  for k = 1 this is the textbook 80%.
- **Seeds are planned** from a pilot (:func:`plan_seeds`): each claim gets the seeds per row that detect
  the pilot's observed effect at that power, up to a cap; a claim the cap cannot resolve is declared
  *underpowered* before running, and :func:`judge` given the plan returns *underpowered* for it whatever
  its interval (still reporting effect, interval, seeds and MDE).
- **Secondary intervals** (every claim on every metric) are corrected with Holm's step-down method
  (:func:`holm`).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from bench.spec import HIGHER_IS_BETTER, Claim, Table

REPRODUCED, CONTRADICTED, INCONCLUSIVE, UNDERPOWERED = "reproduced", "contradicted", "inconclusive", "underpowered"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, UNDERPOWERED)
ALPHA, POWER, CAP = 0.05, 0.80, 10
MAX_SEEDS = 100_000  # beyond this a planned seed count is reported as infinite
# verdicts.csv: the columns it always had first, then what this module adds
VERDICT_COLUMNS = ["claim", "text", "metric", "better", "worse", "rival", "effect", "ci_low", "ci_high", "n", "verdict",
                   "why", "method", "p", "sd", "mde", "power_each", "rivals", "guards", "guards_hold", "planned_seeds",
                   "planned_underpowered", "paper_metric", "paper_effect", "paper_ci_low", "paper_ci_high"]
PLAN_COLUMNS = ["claim", "metric", "paired", "pilot_n", "pilot_seeds", "pilot_effect", "pilot_sd", "binding",
                "seeds_needed", "seeds", "mde_at_seeds", "power_each", "cap", "underpowered", "note"]


def aggregate(runs: pd.DataFrame, paper: dict[str, dict] | None = None) -> pd.DataFrame:
    """Tidy per-(row, seed, metric) values → mean, std, n per (row, metric), with the paper's value.

    Args:
        runs: columns ``row, seed, metric, value`` (failed cells have NaN values and are ignored).
        paper: ``{row: {metric: (mean, std)}}``.
    """
    ok = runs.dropna(subset=["value"]).drop_duplicates(["row", "seed", "metric"], keep="last")
    g = ok.groupby(["row", "metric"], sort=False)["value"]
    out = g.agg(mean="mean", std="std", n="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    paper = paper or {}
    out["paper_mean"] = [paper.get(r, {}).get(m, (np.nan, np.nan))[0] for r, m in zip(out["row"], out["metric"])]
    out["paper_std"] = [paper.get(r, {}).get(m, (np.nan, np.nan))[1] for r, m in zip(out["row"], out["metric"])]
    return out


# ---------------------------------------------------------------------------------------------- one comparison

def welch_ci(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean(a) − mean(b), low, high): Welch's t interval for the difference of means."""
    t = welch_test(a, b, level)
    return t["diff"], t["low"], t["high"]


def welch_test(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict:
    """Welch's two-sample t: ``diff`` (mean(a) − mean(b)), ``low``/``high`` (its ``level`` interval), ``p``
    (two-sided), ``df``; infinite interval and p = NaN with fewer than two values on either side."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return {"diff": diff, "low": -math.inf, "high": math.inf, "p": math.nan, "df": math.nan}
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return {"diff": diff, "low": diff, "high": diff, "p": 1.0 if diff == 0 else 0.0, "df": math.inf}
    df = (va + vb) ** 2 / ((va ** 2) / (len(a) - 1) + (vb ** 2) / (len(b) - 1))
    half = stats.t.ppf(0.5 + level / 2, df) * se
    return {"diff": diff, "low": diff - half, "high": diff + half, "p": float(2 * stats.t.sf(abs(diff) / se, df)),
            "df": df}


def paired_test(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict:
    """Paired t on the differences ``a − b`` (equal-length arrays, element i of both from seed i): the same
    keys as :func:`welch_test`."""
    d = np.asarray(a, float) - np.asarray(b, float)
    diff = float(d.mean()) if len(d) else math.nan
    if len(d) < 2:
        return {"diff": diff, "low": -math.inf, "high": math.inf, "p": math.nan, "df": math.nan}
    se = d.std(ddof=1) / math.sqrt(len(d))
    if se == 0:
        return {"diff": diff, "low": diff, "high": diff, "p": 1.0 if diff == 0 else 0.0, "df": len(d) - 1}
    half = stats.t.ppf(0.5 + level / 2, len(d) - 1) * se
    return {"diff": diff, "low": diff - half, "high": diff + half,
            "p": float(2 * stats.t.sf(abs(diff) / se, len(d) - 1)), "df": len(d) - 1}


def pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    """The pooled standard deviation of two samples (NaN with fewer than three values in all)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    dof = len(a) + len(b) - 2
    if len(a) < 1 or len(b) < 1 or dof < 1:
        return math.nan
    ss = (a.var(ddof=1) * (len(a) - 1) if len(a) > 1 else 0.0) + (b.var(ddof=1) * (len(b) - 1) if len(b) > 1 else 0.0)
    return math.sqrt(ss / dof)


# ---------------------------------------------------------------------------------------------- power

def _t_shape(n: int, n2: int | None, paired: bool) -> tuple[float, float]:
    """(degrees of freedom, standard error per unit sd) of the t statistic for ``n`` (and ``n2``) seeds."""
    if paired:
        return n - 1, 1 / math.sqrt(n)
    n2 = n if n2 is None else n2
    return n + n2 - 2, math.sqrt(1 / n + 1 / n2)


def _power_at(tc: float, df: float, ncp: float) -> float:
    """P(|T| > tc) for T ~ noncentral t(df, ncp >= 0). scipy's far lower tail can come back NaN for a
    large ncp; it is then below Φ(−ncp) (negligible), and counted as 0."""
    upper = stats.nct.sf(tc, df, ncp)
    if not upper == upper:
        upper = 1.0 - stats.nct.cdf(tc, df, ncp)
    lower = stats.nct.cdf(-tc, df, ncp)
    if not lower == lower:
        lower = 0.0
    return float(upper + lower)


def power_t(effect: float, sd: float, n: int, alpha: float = ALPHA, paired: bool = False,
            n2: int | None = None) -> float:
    """Power of the two-sided level-``alpha`` t test to detect a true difference ``effect``: two-sample
    (pooled, ``n`` and ``n2`` seeds per row, ``sd`` the seed sd within a row) or paired (``n`` seeds,
    ``sd`` the sd of per-seed differences). Exact, from the noncentral t distribution."""
    if n < 2 or (not paired and (n2 if n2 is not None else n) < 1):
        return math.nan
    df, unit_se = _t_shape(n, n2, paired)
    if df < 1:
        return math.nan
    if sd == 0:
        return 1.0 if effect != 0 else alpha
    ncp = abs(effect) / (sd * unit_se)
    return _power_at(stats.t.ppf(1 - alpha / 2, df), df, ncp)


def mde(sd: float, n: int, alpha: float = ALPHA, power: float = POWER, paired: bool = False,
        n2: int | None = None) -> float:
    """Minimum detectable effect: the true difference that the two-sided level-``alpha`` t test detects
    with probability ``power``, for ``n`` seeds per row (``n2`` for the second row, when different)
    with seed sd ``sd`` (paired: ``n`` seeds, ``sd`` of the per-seed differences). ``inf`` for fewer
    than two seeds (no spread to test against)."""
    if not (sd == sd) or n < 2:
        return math.inf
    df, unit_se = _t_shape(n, n2, paired)
    if df < 1:
        return math.inf
    if sd == 0:
        return 0.0
    tc = stats.t.ppf(1 - alpha / 2, df)

    def gap(ncp):
        return _power_at(tc, df, ncp) - power

    hi = 2 * tc + 10
    while gap(hi) < 0:
        hi *= 2
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-10)) * sd * unit_se


def seeds_needed(effect: float, sd: float, alpha: float = ALPHA, power: float = POWER, paired: bool = False,
                 max_seeds: int = MAX_SEEDS) -> float:
    """The fewest seeds per row (at least 2) whose t test detects ``effect`` with probability ``power``;
    ``inf`` when even ``max_seeds`` do not (including a zero effect)."""
    if not (effect == effect and sd == sd):
        return math.inf
    if sd == 0:
        return 2 if effect != 0 else math.inf
    if effect == 0 or power_t(effect, sd, max_seeds, alpha, paired) < power:
        return math.inf
    lo, hi = 2, max_seeds  # power rises with n: the smallest n with power >= target
    if power_t(effect, sd, lo, alpha, paired) >= power:
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power_t(effect, sd, mid, alpha, paired) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def power_each(k: int, power: float = POWER) -> float:
    """The power each of ``k`` comparisons needs so that all k succeed together with probability at least
    ``power`` (Bonferroni: P(some fails) <= sum of the k failure probabilities)."""
    return 1 - (1 - power) / max(int(k), 1)


# ---------------------------------------------------------------------------------------------- multiplicity

def holm(p: list[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as ``p``; NaNs stay NaN and do not count towards
    the number of tests). A hypothesis is rejected at level α when its adjusted p-value is below α."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if not m:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


# ---------------------------------------------------------------------------------------------- claims

def _clean(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs[runs["metric"] != "__failed__"] if "metric" in runs else runs
    return runs.dropna(subset=["value"]).drop_duplicates(["row", "seed", "metric"], keep="last")


def _per_seed(vals: pd.DataFrame, row: str, metric: str) -> pd.Series:
    v = vals[(vals["row"] == row) & (vals["metric"] == metric)]
    return pd.Series(v["value"].to_numpy(float), index=v["seed"].to_numpy()).sort_index()


def _sign(metric: str) -> float:
    return 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0


def compare(vals: pd.DataFrame, better: str, rival: str, metric: str, paired: bool = False, level: float = 0.95,
            power: float = POWER) -> dict:
    """One comparison, ``better`` vs ``rival`` on ``metric``, from clean per-seed values: the effect signed
    so that positive means ``better`` is better, its interval, two-sided p, seeds, the sd the test sees
    (pooled seed sd, or sd of paired differences) and the MDE at ``power``."""
    a, b = _per_seed(vals, better, metric), _per_seed(vals, rival, metric)
    sign = _sign(metric)
    base = {"metric": metric, "rival": rival, "method": "paired t" if paired else "Welch t"}
    if paired:
        common = a.index.intersection(b.index)
        a, b = a.loc[common], b.loc[common]
        t = paired_test(a.to_numpy(), b.to_numpy(), level)
        n_b = n_r = len(common)
        sd = float(np.std(a.to_numpy() - b.to_numpy(), ddof=1)) if len(common) > 1 else math.nan
        m = mde(sd, n_b, power=power, paired=True)
    else:
        t = welch_test(a.to_numpy(), b.to_numpy(), level)
        n_b, n_r = len(a), len(b)
        sd = pooled_sd(a.to_numpy(), b.to_numpy())
        m = mde(sd, n_b, power=power, n2=n_r) if min(n_b, n_r) >= 2 else math.inf
    lo, hi = sorted((sign * t["low"], sign * t["high"]))
    return {**base, "effect": sign * t["diff"], "ci_low": lo, "ci_high": hi, "p": t["p"], "n_better": n_b,
            "n_rival": n_r, "n": min(n_b, n_r), "sd": sd, "mde": m}


def comparisons(claim: Claim, runs: pd.DataFrame, level: float = 0.95, power: float = POWER) -> pd.DataFrame:
    """Every interval ``claim`` is judged on, one line each: its declared metric against every rival
    (``kind`` "claim") and every guard against every rival (``kind`` "guard", with ``margin`` and
    ``holds``: the interval's lower end above ``-margin``). MDEs are at the power each comparison needs
    for the whole claim to have ``power`` (:func:`power_each`)."""
    vals = _clean(runs)
    pe = power_each(claim.comparisons, power)
    lines = []
    for rival in claim.worse:
        c = compare(vals, claim.better, rival, claim.metric, claim.paired, level, pe)
        lines.append({"claim": claim.id, "kind": "claim", **c, "margin": np.nan, "holds": c["ci_low"] > 0})
        for g_metric, margin in claim.guards:
            g = compare(vals, claim.better, rival, g_metric, claim.paired, level, pe)
            lines.append({"claim": claim.id, "kind": "guard", **g, "margin": float(margin),
                          "holds": bool(g["n"] >= 2 and g["ci_low"] > -float(margin))})
    return pd.DataFrame(lines)


def _ci(e, lo, hi, digits=3) -> str:
    if e != e:
        return "–"
    return f"{e:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def judge(claim: Claim, runs: pd.DataFrame, level: float = 0.95, plan: pd.DataFrame | None = None,
          paper_metric: str | None = None, power: float = POWER) -> dict:
    """The verdict on ``claim`` from per-seed values (intersection–union over its rivals, with its guards).

    The effect, interval, p and MDE reported are those of the *deciding* rival: when contradicted, the
    rival whose interval lies lowest; otherwise the one whose interval's lower end is lowest (the
    comparison that stands between the claim and *reproduced*). ``rivals`` and ``guards`` list every
    comparison. With ``plan`` (from :func:`plan_seeds`), a claim planned as underpowered gets the verdict
    *underpowered*, declared before running, whatever its interval. With ``paper_metric``, the same
    comparison on the paper's own metric is reported beside (``paper_effect``, ``paper_ci_*``).
    """
    cmp = comparisons(claim, runs, level, power)
    main = cmp[cmp["kind"] == "claim"].reset_index(drop=True)
    guards = cmp[cmp["kind"] == "guard"].reset_index(drop=True)
    vals = _clean(runs)
    pct = f"{int(round(level * 100))}%"
    base = {"claim": claim.id, "text": claim.text, "metric": claim.metric, "better": claim.better,
            "worse": ", ".join(claim.worse), "method": "paired t" if claim.paired else "Welch t",
            "power_each": power_each(claim.comparisons, power)}
    present = set(vals["row"][vals["metric"] == claim.metric])
    missing = [r for r in (claim.better, *claim.worse) if r not in present]

    rivals = "; ".join(f"{r.rival}: {_ci(r.effect, r.ci_low, r.ci_high)}" for r in main.itertuples())
    gtext = "; ".join(f"{g.metric} vs {g.rival}: {_ci(g.effect, g.ci_low, g.ci_high)} "
                      f"{'≥' if g.holds else 'not ≥'} −{g.margin:g}" for g in guards.itertuples())
    failed_guards = guards[~guards["holds"].astype(bool)] if len(guards) else guards
    # the deciding rival
    if missing or main["n"].min() < 2:
        pick = main["n"].idxmin() if len(main) else None
    elif (main["ci_high"] < 0).any():
        pick = main["ci_high"].idxmin()
    else:
        pick = main["ci_low"].idxmin()
    d = main.loc[pick] if pick is not None else None
    n = int(main["n"].min()) if len(main) else 0
    out = {**base, "rival": d["rival"] if d is not None else ", ".join(claim.worse),
           "effect": d["effect"] if d is not None and not missing else np.nan,
           "ci_low": d["ci_low"] if d is not None and not missing else np.nan,
           "ci_high": d["ci_high"] if d is not None and not missing else np.nan,
           "p": d["p"] if d is not None and not missing else np.nan,
           "n": 0 if missing else n, "sd": d["sd"] if d is not None else np.nan,
           "mde": float(main["mde"].max()) if len(main) and not missing else math.inf,
           "rivals": rivals, "guards": gtext,
           "guards_hold": (bool(guards["holds"].all()) if len(guards) else np.nan)}

    prow = None
    if plan is not None and len(plan) and claim.id in set(plan["claim"]):
        prow = plan[plan["claim"] == claim.id].iloc[-1]
    out["planned_seeds"] = int(prow["seeds"]) if prow is not None else np.nan
    out["planned_underpowered"] = bool(prow["underpowered"]) if prow is not None else np.nan
    notes = []
    if prow is not None and str(prow["metric"]) != claim.metric:
        notes.append(f"the plan was made on {prow['metric']}, the claim now declares {claim.metric}: "
                     "the declared metric changed after planning")
    if prow is not None and not missing and n < int(prow["seeds"]):
        notes.append(f"only {n} of the {int(prow['seeds'])} planned seeds per row")

    if prow is not None and bool(prow["underpowered"]):
        need = prow["seeds_needed"]
        need_s = "no finite number of" if not math.isfinite(float(need)) else f"{int(need)}"
        verdict = UNDERPOWERED
        binding = str(prow.get("binding", "") or "")
        if binding.startswith("guard"):
            what = f"holding the guard {binding.removeprefix('guard ')} at the pilot's effect"
        else:
            what = f"detecting the pilot's effect ({prow['pilot_effect']:+.3g})"
        why = (f"declared underpowered before running: {what} needs {need_s} seeds per row, over the cap of "
               f"{int(prow['cap'])}; at {int(prow['seeds'])} seeds the pilot's spread gives an MDE of "
               f"{prow['mde_at_seeds']:.3g} on {prow['metric']}")
        if missing:
            why += f"; no results for {', '.join(missing)}"
    elif missing:
        verdict, why = INCONCLUSIVE, f"no results for {', '.join(missing)}"
    elif n < 2:
        verdict, why = INCONCLUSIVE, "fewer than 2 seeds per row: no spread to judge against"
    elif (main["ci_high"] < 0).any():
        against = ", ".join(main.loc[main["ci_high"] < 0, "rival"])
        verdict, why = CONTRADICTED, f"the {pct} CI lies below zero against {against}"
    elif (main["ci_low"] > 0).all():
        if len(failed_guards):
            verdict = INCONCLUSIVE
            why = (f"the {pct} CI lies above zero against every rival, but the non-inferiority guard fails: "
                   + "; ".join(f"{g.metric} vs {g.rival} lower end {g.ci_low:+.3g} ≤ −{g.margin:g}"
                               if g.n >= 2 else f"{g.metric} vs {g.rival} not measured"
                               for g in failed_guards.itertuples()))
        else:
            verdict = REPRODUCED
            why = f"the {pct} CI lies above zero" + (" against every rival" if len(claim.worse) > 1 else "")
            if len(guards):
                why += " and every non-inferiority guard holds"
    else:
        open_ = ", ".join(main.loc[main["ci_low"] <= 0, "rival"])
        verdict = INCONCLUSIVE
        why = f"the {pct} CI contains zero against {open_}" + (
            " (effect inside the seed noise)" if len(claim.worse) == 1 else "")
    if notes:
        why += " (" + "; ".join(notes) + ")"
    out.update(verdict=verdict, why=why)

    if paper_metric is not None:
        if paper_metric == claim.metric:
            out.update(paper_metric=paper_metric, paper_effect=out["effect"], paper_ci_low=out["ci_low"],
                       paper_ci_high=out["ci_high"])
        else:
            pm = comparisons(Claim(claim.id, claim.text, claim.better, claim.worse, paper_metric,
                                   paired=claim.paired), runs, level, power)
            if len(pm) and (pm["n"] >= 1).all():
                r = pm.loc[pm["ci_low"].idxmin()]
                out.update(paper_metric=paper_metric, paper_effect=r["effect"], paper_ci_low=r["ci_low"],
                           paper_ci_high=r["ci_high"])
            else:
                out.update(paper_metric=paper_metric, paper_effect=np.nan, paper_ci_low=np.nan,
                           paper_ci_high=np.nan)
    return {k: out[k] for k in VERDICT_COLUMNS if k in out}


# ---------------------------------------------------------------------------------------------- planning

def plan_claim(claim: Claim, pilot_runs: pd.DataFrame, cap: int = CAP, power: float = POWER,
               alpha: float = ALPHA) -> dict:
    """The seed plan for one claim from a pilot (see :func:`plan_seeds`)."""
    vals = _clean(pilot_runs)
    pe = power_each(claim.comparisons, power)
    pilot_seeds = sorted({int(s) for s in vals[vals["row"].isin((claim.better, *claim.worse))]["seed"]})
    line = {"claim": claim.id, "metric": claim.metric, "paired": claim.paired, "pilot_seeds":
            " ".join(map(str, pilot_seeds)), "power_each": pe, "cap": int(cap)}
    comps, notes = [], []  # (needed, label, effect, sd, kind)
    for rival in claim.worse:
        c = compare(vals, claim.better, rival, claim.metric, claim.paired)
        if c["n"] < 2 or not (c["sd"] == c["sd"]):
            notes.append(f"no pilot spread for {claim.better} vs {rival} on {claim.metric}")
            continue
        # the size of the pilot's effect, in either direction: contradicting it needs the same power
        comps.append((seeds_needed(abs(c["effect"]), c["sd"], alpha, pe, claim.paired), f"vs {rival}",
                      c["effect"], c["sd"], "claim", c["n"]))
        for g_metric, margin in claim.guards:
            g = compare(vals, claim.better, rival, g_metric, claim.paired)
            if g["n"] < 2 or not (g["sd"] == g["sd"]):
                notes.append(f"no pilot spread for guard {g_metric} vs {rival}")
                continue
            slack = g["effect"] + float(margin)  # the guard holds when the interval's low end > -margin
            if slack <= 0:
                notes.append(f"guard {g_metric} vs {rival} fails in the pilot ({g['effect']:+.3g} ≤ −{margin:g}): "
                             "no seed count makes it hold at the pilot's effect")
                continue
            comps.append((seeds_needed(slack, g["sd"], alpha, pe, claim.paired), f"guard {g_metric} vs {rival}",
                          slack, g["sd"], "guard", g["n"]))
    main = [c for c in comps if c[4] == "claim"]
    if not main:
        return {**line, "pilot_n": 0, "pilot_effect": np.nan, "pilot_sd": np.nan, "binding": "",
                "seeds_needed": np.nan, "seeds": int(cap), "mde_at_seeds": np.nan, "underpowered": False,
                "note": "; ".join(notes + ["no pilot data: run at the cap"])}
    need = max(c[0] for c in comps)
    bind = max(comps, key=lambda c: c[0])
    bind_main = max(main, key=lambda c: c[0])
    seeds = int(min(need, cap))
    return {**line, "pilot_n": int(min(c[5] for c in main)), "pilot_effect": bind_main[2], "pilot_sd": bind_main[3],
            "binding": bind[1], "seeds_needed": need, "seeds": seeds,
            "mde_at_seeds": max(mde(c[3], seeds, alpha, pe, claim.paired) for c in main),
            "underpowered": bool(need > cap), "note": "; ".join(notes)}


def plan_seeds(table: Table, pilot_runs: pd.DataFrame, cap: int = CAP, power: float = POWER,
               alpha: float = ALPHA) -> pd.DataFrame:
    """Seeds per row for every claim of ``table``, planned from a pilot's ``runs.csv`` (PROTOCOL.md §4).

    For each claim, every interval it must clear (its declared metric against each rival; each guard
    against each rival, where the effect to detect is the pilot's guard effect plus the margin) gets the
    fewest seeds per row that detect the pilot's observed effect with the power each comparison needs
    (:func:`power_each`: 80% for the claim as a whole); the claim gets the largest of these, capped at
    ``cap``. A claim needing more than ``cap`` is *underpowered*; ``mde_at_seeds`` is the declared metric's
    MDE at the seeds it gets (the cap, for an underpowered claim) from the pilot's spread.

    Columns: claim, metric, paired, pilot_n, pilot_seeds, pilot_effect (declared metric, the rival that
    needs most seeds), pilot_sd, binding (the comparison that sets the count), seeds_needed (uncapped;
    ``inf`` when no count would do), seeds, mde_at_seeds, power_each, cap, underpowered, note.
    """
    return pd.DataFrame([plan_claim(c, pilot_runs, cap, power, alpha) for c in table.claims], columns=PLAN_COLUMNS)


def write_plan(plan: pd.DataFrame, path: Path) -> Path:
    """Write ``plan`` as CSV (``plan.csv`` beside the table's ``runs.csv``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plan.to_csv(path, index=False)
    return path


def read_plan(path: Path) -> pd.DataFrame | None:
    """A plan written by :func:`write_plan`, or None when ``path`` does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    plan = pd.read_csv(path, dtype={"pilot_seeds": str})
    plan["underpowered"] = plan["underpowered"].astype(str).str.lower().isin(("true", "1"))
    return plan


def confirmatory_seeds(plan: pd.DataFrame, include_underpowered: bool = False) -> int:
    """Seeds per row for a confirmatory run of the whole table: the largest planned count among claims
    the cap resolves (with ``include_underpowered``, among all claims, i.e. the cap when any is)."""
    use = plan if include_underpowered else plan[~plan["underpowered"].astype(bool)]
    return int(max(2, use["seeds"].max())) if len(use) else 2


def fresh_seeds(pilot_runs: pd.DataFrame, n: int) -> list[int]:
    """``n`` training seeds the pilot did not use (PROTOCOL.md §4): the ones after its largest."""
    used = pd.to_numeric(pilot_runs["seed"], errors="coerce").dropna() if len(pilot_runs) else pd.Series([], float)
    start = int(used.max()) + 1 if len(used) else 0
    return list(range(start, start + n))

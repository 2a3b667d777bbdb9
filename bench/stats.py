"""Aggregation across training seeds, verdicts on claims, power, seed planning and Holm's correction
(PROTOCOL.md version 2, rules 4-6, 12, 14-16). The tests, power and corrections are scipy's and
statsmodels'; this module decides what to feed them and how to read them.

- **One comparison** "A beats B on metric m" is the difference of per-seed means, signed so that
  positive means "as the paper claims" (lower-is-better metrics such as FID are flipped), with a 95%
  Welch t interval (``scipy.stats.ttest_ind(equal_var=False)``); or, when the claim declares ``paired``,
  a paired t on the seeds both rows have (``scipy.stats.ttest_rel``). A two-sided metric declared
  ``toward_real`` (rule 12) is first turned into each seed's distance to the real data's value, lower
  is better.
- **Equivalence** (rule 15, *absent*): two one-sided tests against ±SESOI (statsmodels ``ttost_ind`` /
  ``ttost_paired``).
- **A claim against several rivals** must clear every one (intersection–union, rule 14): its p-value for
  "as the paper says" is the largest over its rivals; for "the other way" it is the smallest over the
  rivals it loses to, times their number (Bonferroni inside the claim); for *absent*, the largest TOST
  p-value over its rivals.
- **Verdicts follow the data** (rule 15): those p-values are Holm-adjusted across the table's testable
  claims (``statsmodels.stats.multitest.multipletests(method="holm")``), one family for the
  difference and one for the equivalence tests. *Reproduced* (adjusted difference significant in the
  paper's direction and every guard holds), *contradicted* (significant the other way), *absent*
  (adjusted equivalence significant), *inconclusive* (none of these), *not testable* (a compared row
  failed a health gate, or the metric sits at its floor in every compared row: rule 6). A plan's label
  (powered or underpowered) and the MDE at the seeds run stand beside the verdict, never instead.
- **Power** (statsmodels ``TTestIndPower`` / ``TTestPower``, the exact noncentral t). A claim that needs k
  intervals to clear plans each at power ``1 − 0.2/k`` (Bonferroni), so that all clear together with at
  least 80%.
- **Seed plans** (rule 4, :func:`plan_table`): the pilot supplies only the spread, pooled per metric over
  the rows scored on it; each claim gets the fewest seeds per row (at least 4) that detect its declared
  SESOI, and is funded within a per-table cap in core-hours. The plan records a fingerprint of every row
  and metric definition it used; when one changes, the plan is void.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from bench.spec import Claim, Table, higher_is_better

REPRODUCED, CONTRADICTED, ABSENT, INCONCLUSIVE, NOT_TESTABLE = (
    "reproduced", "contradicted", "absent", "inconclusive", "not testable")
VERDICTS = (REPRODUCED, CONTRADICTED, ABSENT, INCONCLUSIVE, NOT_TESTABLE)
ALPHA, POWER, MIN_SEEDS = 0.05, 0.80, 4
CAP_HOURS = 24.0  # default per-table compute cap of a plan, core-hours
MAX_SEEDS = 100_000  # beyond this a planned seed count is reported as infinite
POCOCK_2 = 0.0294  # Pocock's per-stage α for two stages at an overall 0.05
VERDICT_COLUMNS = ["claim", "text", "metric", "better", "worse", "rival", "effect", "ci_low", "ci_high", "n", "verdict",
                   "why", "method", "p", "p_adj", "p_tost", "p_tost_adj", "sesoi", "toward_real", "real_value", "sd",
                   "mde", "power_each", "rivals", "guards", "guards_hold", "not_testable", "planned_seeds",
                   "planned_underpowered", "plan_status", "paper_metric", "paper_effect", "paper_ci_low",
                   "paper_ci_high"]
PLAN_COLUMNS = ["claim", "metric", "sesoi", "paired", "rows", "pilot_seeds", "pilot_n", "sd", "sd_rows",
                "seeds_needed", "seeds", "mde_at_seeds", "power_each", "cost_core_h", "funded", "underpowered",
                "not_testable", "cap_core_h", "alpha", "design", "row_definitions", "metric_definition", "note"]


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

def _no_test(diff: float) -> dict:
    return {"diff": diff, "low": -math.inf, "high": math.inf, "p": math.nan, "df": math.nan}


def _degenerate(diff: float, df: float) -> dict:
    """Zero spread on both sides: the difference is exact."""
    return {"diff": diff, "low": diff, "high": diff, "p": 1.0 if diff == 0 else 0.0, "df": df}


def welch_test(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict:
    """Welch's two-sample t (scipy): ``diff`` (mean(a) − mean(b)), ``low``/``high`` (its ``level``
    interval), ``p`` (two-sided), ``df``; infinite interval and p = NaN with fewer than two values on
    either side."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return _no_test(diff)
    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        return _degenerate(diff, math.inf)
    r = stats.ttest_ind(a, b, equal_var=False)
    ci = r.confidence_interval(level)
    return {"diff": diff, "low": float(ci.low), "high": float(ci.high), "p": float(r.pvalue), "df": float(r.df)}


def paired_test(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict:
    """Paired t on the differences ``a − b`` (scipy ``ttest_rel``; element i of both from seed i): the
    same keys as :func:`welch_test`."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = a - b
    diff = float(d.mean()) if len(d) else math.nan
    if len(d) < 2:
        return _no_test(diff)
    if d.std(ddof=1) == 0:
        return _degenerate(diff, len(d) - 1)
    r = stats.ttest_rel(a, b)
    ci = r.confidence_interval(level)
    return {"diff": diff, "low": float(ci.low), "high": float(ci.high), "p": float(r.pvalue), "df": float(r.df)}


def welch_ci(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean(a) − mean(b), low, high): Welch's t interval for the difference of means."""
    t = welch_test(a, b, level)
    return t["diff"], t["low"], t["high"]


def tost(a: np.ndarray, b: np.ndarray, sesoi: float, paired: bool = False) -> float:
    """The p-value of two one-sided tests that mean(a) − mean(b) lies inside ±``sesoi`` (statsmodels'
    ``ttost_ind`` with Welch's variances, or ``ttost_paired``): small means *equivalent*. NaN with fewer
    than two values on a side."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or not (sesoi == sesoi and sesoi > 0):
        return math.nan
    d = a - b if paired else None
    spread = d.std(ddof=1) if paired else math.hypot(a.std(ddof=1), b.std(ddof=1))
    if spread == 0:
        diff = float(d.mean()) if paired else float(a.mean() - b.mean())
        return 0.0 if abs(diff) < sesoi else 1.0
    if paired:
        return float(ttost_paired(a, b, -sesoi, sesoi)[0])
    return float(ttost_ind(a, b, -sesoi, sesoi, usevar="unequal")[0])


def pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    """The pooled standard deviation of two samples (NaN with fewer than three values in all)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    dof = len(a) + len(b) - 2
    if len(a) < 1 or len(b) < 1 or dof < 1:
        return math.nan
    ss = (a.var(ddof=1) * (len(a) - 1) if len(a) > 1 else 0.0) + (b.var(ddof=1) * (len(b) - 1) if len(b) > 1 else 0.0)
    return math.sqrt(ss / dof)


# ---------------------------------------------------------------------------------------------- power

def _power_of(paired: bool):
    return TTestPower() if paired else TTestIndPower()


def power_t(effect: float, sd: float, n: int, alpha: float = ALPHA, paired: bool = False,
            n2: int | None = None) -> float:
    """Power of the two-sided level-``alpha`` t test to detect a true difference ``effect`` (statsmodels,
    the exact noncentral t): two-sample (pooled, ``n`` and ``n2`` seeds per row, ``sd`` the seed sd within
    a row) or paired (``n`` seeds, ``sd`` the sd of per-seed differences)."""
    n2 = n if n2 is None else n2
    if n < 2 or (not paired and n2 < 1) or (not paired and n + n2 - 2 < 1):
        return math.nan
    if sd == 0:
        return 1.0 if effect != 0 else alpha
    d = abs(effect) / sd
    if paired:
        p = TTestPower().power(effect_size=d, nobs=n, alpha=alpha, alternative="two-sided")
        df, ncp = n - 1, d * math.sqrt(n)
    else:
        p = TTestIndPower().power(effect_size=d, nobs1=n, ratio=n2 / n, alpha=alpha, alternative="two-sided")
        df, ncp = n + n2 - 2, d / math.sqrt(1 / n + 1 / n2)
    p = float(np.asarray(p).item())
    if p != p:  # the noncentral t's far tail can come back NaN for a large ncp: the normal limit is exact there
        tc = stats.t.ppf(1 - alpha / 2, df)
        p = float(stats.norm.sf(tc - ncp) + stats.norm.cdf(-tc - ncp))
    return p


def mde(sd: float, n: int, alpha: float = ALPHA, power: float = POWER, paired: bool = False,
        n2: int | None = None) -> float:
    """Minimum detectable effect: the true difference the two-sided level-``alpha`` t test detects with
    probability ``power`` at ``n`` seeds per row (``n2`` for the second row) with seed sd ``sd`` (paired:
    the sd of per-seed differences). ``inf`` for fewer than two seeds."""
    n2 = n if n2 is None else n2
    if not (sd == sd) or n < 2 or (not paired and n + n2 - 2 < 1):
        return math.inf
    if sd == 0:
        return 0.0
    if paired:
        d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided")
    else:
        d = TTestIndPower().solve_power(effect_size=None, nobs1=n, ratio=n2 / n, alpha=alpha, power=power,
                                        alternative="two-sided")
    return float(np.asarray(d).item()) * sd


def seeds_needed(effect: float, sd: float, alpha: float = ALPHA, power: float = POWER, paired: bool = False,
                 min_seeds: int = 2, max_seeds: int = MAX_SEEDS) -> float:
    """The fewest seeds per row (at least ``min_seeds``) whose t test detects ``effect`` with probability
    ``power``; ``inf`` when even ``max_seeds`` do not (including a zero effect)."""
    if not (effect == effect and sd == sd):
        return math.inf
    if sd == 0:
        return max(2, min_seeds) if effect != 0 else math.inf
    if effect == 0 or power_t(effect, sd, max_seeds, alpha, paired) < power:
        return math.inf
    lo = max(2, min_seeds)
    if power_t(effect, sd, lo, alpha, paired) >= power:
        return lo
    hi = max_seeds  # power rises with n: the smallest n with power >= target, by bisection
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
    """Holm's step-down adjusted p-values (statsmodels ``multipletests``), same order as ``p``; NaNs stay
    NaN and do not count towards the number of tests."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


# ---------------------------------------------------------------------------------------------- claims

def _clean(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs[runs["metric"] != "__failed__"] if "metric" in runs else runs
    return runs.dropna(subset=["value"]).drop_duplicates(["row", "seed", "metric"], keep="last")


def _per_seed(vals: pd.DataFrame, row: str, metric: str) -> pd.Series:
    v = vals[(vals["row"] == row) & (vals["metric"] == metric)]
    return pd.Series(v["value"].to_numpy(float), index=v["seed"].to_numpy()).sort_index()


def _sign(metric: str) -> float:
    return 1.0 if higher_is_better(metric) else -1.0


def compare(vals: pd.DataFrame, better: str, rival: str, metric: str, paired: bool = False, level: float = 0.95,
            power: float = POWER, sesoi: float | None = None, real: float | None = None) -> dict:
    """One comparison, ``better`` vs ``rival`` on ``metric``, from clean per-seed values: the effect signed
    so that positive means ``better`` is better, its interval, two-sided p, the TOST p against ±``sesoi``,
    seeds, the sd the test sees (pooled seed sd, or sd of paired differences) and the MDE at ``power``.
    With ``real``, each value becomes its distance to ``real`` (lower is better; PROTOCOL.md rule 12)."""
    a, b = _per_seed(vals, better, metric), _per_seed(vals, rival, metric)
    sign = _sign(metric)
    if real is not None:
        a, b, sign = (a - real).abs(), (b - real).abs(), -1.0
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
    p_eq = tost(a.to_numpy(), b.to_numpy(), float(sesoi), paired) if sesoi else math.nan
    lo, hi = sorted((sign * t["low"], sign * t["high"]))
    return {**base, "effect": sign * t["diff"], "ci_low": lo, "ci_high": hi, "p": t["p"], "p_tost": p_eq,
            "n_better": n_b, "n_rival": n_r, "n": min(n_b, n_r), "sd": sd, "mde": m}


def comparisons(claim: Claim, runs: pd.DataFrame, level: float = 0.95, power: float = POWER,
                references: dict[str, float] | None = None) -> pd.DataFrame:
    """Every interval ``claim`` is judged on, one line each: its declared metric against every rival
    (``kind`` "claim") and every guard against every rival (``kind`` "guard", with ``margin`` and
    ``holds``: the interval's lower end above ``-margin``; a guard with fewer than two seeds a side does
    not hold). MDEs are at the power each comparison needs for the whole claim to have ``power``.
    ``references``: the real data's value per metric, for a claim declared ``toward_real``."""
    vals = _clean(runs)
    pe = power_each(claim.comparisons, power)
    real = (references or {}).get(claim.metric) if claim.toward_real else None
    lines = []
    for rival in claim.worse:
        c = compare(vals, claim.better, rival, claim.metric, claim.paired, level, pe, claim.sesoi, real)
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


def at_floor(claim: Claim, runs: pd.DataFrame, floors: dict) -> str:
    """Why ``claim``'s metric sits at its floor or chance in every row it compares (within one SESOI of
    the table's declared floor; PROTOCOL.md rule 6), or "" when it does not (or no floor is declared)."""
    if claim.metric not in floors or claim.sesoi is None:
        return ""
    floor, vals = float(floors[claim.metric]), _clean(runs)
    means = {}
    for r in (claim.better, *claim.worse):
        v = _per_seed(vals, r, claim.metric)
        if not len(v):
            return ""
        means[r] = float(v.mean())
    higher = higher_is_better(claim.metric)
    stuck = all((m <= floor + claim.sesoi) if higher else (m >= floor - claim.sesoi) for m in means.values())
    if not stuck:
        return ""
    return (f"{claim.metric} sits at its floor ({floor:g}) in every compared row: "
            + ", ".join(f"{r} {m:.3f}" for r, m in means.items()) + f" (within the SESOI {claim.sesoi:g})")


def _claim_tests(cmp: pd.DataFrame) -> tuple[float, float, float]:
    """(p of the difference, its direction +1 / −1 / 0, p of equivalence) of one claim from its per-rival
    lines (intersection–union; Bonferroni over the rivals it loses to)."""
    main = cmp[cmp["kind"] == "claim"]
    if not len(main) or main["n"].min() < 2 or main["p"].isna().any():
        return math.nan, 0, math.nan
    eq = float(main["p_tost"].max()) if main["p_tost"].notna().all() else math.nan
    losing = main[main["effect"] < 0]
    if not len(losing):
        return float(main["p"].max()), 1, eq
    return min(1.0, len(main) * float(losing["p"].min())), -1, eq


def _plan_line(plan: pd.DataFrame | None, claim_id: str) -> pd.Series | None:
    if plan is None or not len(plan) or claim_id not in set(plan["claim"]):
        return None
    return plan[plan["claim"] == claim_id].iloc[-1]


def plan_version(plan: pd.DataFrame | None) -> int:
    """2 for a plan of :func:`plan_table` (it declares SESOIs), 1 for an older plan, 0 for none."""
    if plan is None or not len(plan):
        return 0
    return 2 if "sesoi" in plan.columns else 1


def judge_table(table: Table, runs: pd.DataFrame, level: float = 0.95, plan: pd.DataFrame | None = None,
                health: dict[str, list[str]] | None = None, references: dict[str, float] | None = None,
                plan_void: str = "", power: float = POWER, alpha: float | None = None,
                claims: tuple[Claim, ...] | None = None) -> pd.DataFrame:
    """Verdicts on every claim of ``table`` from per-seed values (PROTOCOL.md rule 15): one line per claim,
    columns :data:`VERDICT_COLUMNS`.

    Args:
        plan: the seed plan declared before running (:func:`plan_table`, or an older one): its label and
            seeds stand beside each verdict, never instead of it.
        health: ``{row: [failing gates, with numbers]}`` (``bench.health.unhealthy_rows``): claims that
            need such a row are *not testable*.
        references: the real data's value per metric (``references.csv``), for claims judged ``toward_real``.
        plan_void: why the plan no longer holds (a row or metric definition changed), or "".
        alpha: the familywise level (default: the plan's, else 0.05).
        claims: judge these instead of the table's (e.g. one claim alone).
    """
    claims = table.claims if claims is None else claims
    health = health or {}
    if alpha is None:
        alpha = float(plan["alpha"].iloc[0]) if plan_version(plan) == 2 and "alpha" in plan else ALPHA
    lines, tests = [], []
    for c in claims:
        line, cmp, reason = _judge_one(c, runs, level, power, references, health, table.floors)
        p_diff, direction, p_eq = (math.nan, 0, math.nan) if reason else _claim_tests(cmp)
        lines.append((c, line, cmp, reason, direction))
        tests.append((p_diff, p_eq))
    adj_diff = holm([t[0] for t in tests])
    adj_eq = holm([t[1] for t in tests])
    out = []
    for (c, line, cmp, reason, direction), (p_diff, p_eq), a_d, a_e in zip(lines, tests, adj_diff, adj_eq):
        line.update(p=p_diff, p_adj=a_d, p_tost=p_eq, p_tost_adj=a_e)
        verdict, why = _verdict(c, line, cmp, reason, direction, a_d, a_e, alpha, level)
        line.update(_plan_fields(plan, c, line, plan_void))
        if line["plan_status"].startswith("planned underpowered") and verdict in (REPRODUCED, CONTRADICTED):
            why += "; planned as underpowered, so the effect's size may be inflated"
        line.update(verdict=verdict, why=why)
        out.append({k: line.get(k, np.nan) for k in VERDICT_COLUMNS})
    return pd.DataFrame(out, columns=VERDICT_COLUMNS)


def _judge_one(c: Claim, runs, level, power, references, health, floors) -> tuple[dict, pd.DataFrame, str]:
    """The claim's per-rival comparisons, the line of its deciding rival, and why it is not testable ("")."""
    real = (references or {}).get(c.metric) if c.toward_real else None
    cmp = comparisons(c, runs, level, power, references)
    main = cmp[cmp["kind"] == "claim"].reset_index(drop=True)
    guards = cmp[cmp["kind"] == "guard"].reset_index(drop=True)
    vals = _clean(runs)
    present = set(vals["row"][vals["metric"] == c.metric]) if len(runs) else set()
    missing = [r for r in (c.better, *c.worse) if r not in present]
    if missing or main["n"].min() < 2:
        pick = main["n"].idxmin() if len(main) else None
    elif (main["effect"] < 0).any():
        pick = main.loc[main["effect"] < 0, "ci_high"].idxmin()
    else:
        pick = main["ci_low"].idxmin()
    d = main.loc[pick] if pick is not None and not missing else None
    line = {"claim": c.id, "text": c.text, "metric": c.metric, "better": c.better, "worse": ", ".join(c.worse),
            "method": "paired t" if c.paired else "Welch t", "power_each": power_each(c.comparisons, power),
            "sesoi": c.sesoi if c.sesoi is not None else np.nan, "toward_real": c.toward_real,
            "real_value": real if real is not None else np.nan,
            "rival": d["rival"] if d is not None else ", ".join(c.worse),
            "effect": d["effect"] if d is not None else np.nan, "ci_low": d["ci_low"] if d is not None else np.nan,
            "ci_high": d["ci_high"] if d is not None else np.nan, "n": 0 if missing else int(main["n"].min()),
            "sd": d["sd"] if d is not None else np.nan,
            "mde": float(main["mde"].max()) if len(main) and not missing else math.inf,
            "rivals": "; ".join(f"{r.rival}: {_ci(r.effect, r.ci_low, r.ci_high)}" for r in main.itertuples()),
            "guards": "; ".join(f"{g.metric} vs {g.rival}: {_ci(g.effect, g.ci_low, g.ci_high)} "
                                f"{'≥' if g.holds else 'not ≥'} −{g.margin:g}" for g in guards.itertuples()),
            "guards_hold": bool(guards["holds"].all()) if len(guards) else np.nan}
    sick = [f"{r}: {'; '.join(health[r])}" for r in (c.better, *c.worse) if health.get(r)]
    reason = ""
    if sick:
        reason = "unhealthy row(s), failing health gates on val: " + " | ".join(sick)
    elif not missing and (floor := at_floor(c, runs, floors)):
        reason = floor
    line["not_testable"] = reason
    if missing:
        line["missing"] = missing
    return line, cmp, reason


def _verdict(c: Claim, line: dict, cmp: pd.DataFrame, reason: str, direction: int, p_adj: float, p_eq_adj: float,
             alpha: float, level: float) -> tuple[str, str]:
    pct = f"{int(round(level * 100))}%"
    if reason:
        return NOT_TESTABLE, reason
    if line.get("missing"):
        return INCONCLUSIVE, f"no results for {', '.join(line['missing'])}"
    if line["n"] < 2:
        return INCONCLUSIVE, "fewer than 2 seeds per row: no spread to judge against"
    if c.toward_real and line["real_value"] != line["real_value"]:
        return INCONCLUSIVE, (f"{c.metric} is judged as distance to the real data's value (PROTOCOL.md rule 12), "
                              "which is not measured: run --references")
    main = cmp[cmp["kind"] == "claim"]
    guards = cmp[cmp["kind"] == "guard"]
    what = f"{'distance to real ' if c.toward_real else ''}{c.metric}"
    p_txt = f"Holm-adjusted p = {p_adj:.3g}" if p_adj == p_adj else "no p-value"
    eq_note = ""
    if p_eq_adj == p_eq_adj and p_eq_adj < alpha:
        eq_note = f"; the effect also lies inside ±{c.sesoi:g} (TOST, adjusted p = {p_eq_adj:.3g}): real but small"
    if p_adj == p_adj and p_adj < alpha and direction > 0:
        failed = guards[~guards["holds"].astype(bool)] if len(guards) else guards
        if len(failed):
            return INCONCLUSIVE, (f"{what} favours the claim ({p_txt}), but its guard fails (a guard is never "
                                  "dropped): "
                                  + "; ".join(f"{g.metric} vs {g.rival} lower end {g.ci_low:+.3g} ≤ −{g.margin:g}"
                                              if g.n >= 2 else f"{g.metric} vs {g.rival} not measured"
                                              for g in failed.itertuples()))
        why = f"{what} is better than every rival ({p_txt} ≤ {alpha:g})" if len(main) > 1 else \
            f"{what} is better ({p_txt} ≤ {alpha:g})"
        return REPRODUCED, why + (" and every guard holds" if len(guards) else "") + eq_note
    if p_adj == p_adj and p_adj < alpha and direction < 0:
        against = ", ".join(main.loc[main["effect"] < 0, "rival"])
        return CONTRADICTED, f"{what} is worse than {against} ({p_txt} ≤ {alpha:g})" + eq_note
    if p_eq_adj == p_eq_adj and p_eq_adj < alpha:
        return ABSENT, (f"the effect lies inside ±{c.sesoi:g} (the SESOI) against every rival: TOST, Holm-adjusted "
                        f"p = {p_eq_adj:.3g} ≤ {alpha:g}; not different from zero ({p_txt})")
    open_ = main.loc[(main["ci_low"] <= 0) | (main["p"] >= alpha), "rival"].tolist() if len(main) > 1 else []
    against = f" against {', '.join(open_)}" if open_ else ""
    if c.sesoi is None:
        return INCONCLUSIVE, (f"not different from zero{against} ({p_txt}); no SESOI declared, so absence "
                              "cannot be tested")
    return INCONCLUSIVE, (f"neither different from zero{against} ({p_txt}) nor shown inside ±{c.sesoi:g} "
                          f"(TOST adjusted p = {p_eq_adj:.3g}); the {pct} CI is too wide for either")


def _plan_fields(plan: pd.DataFrame | None, c: Claim, line: dict, plan_void: str) -> dict:
    """The plan's seeds and label beside a verdict, and what stands in the way of trusting the plan."""
    p = _plan_line(plan, c.id)
    if p is None:
        return {"planned_seeds": np.nan, "planned_underpowered": np.nan, "plan_status": "no plan"}
    under = str(p.get("underpowered", "")).lower() in ("true", "1")
    label = "planned underpowered" if under else "planned powered"
    if plan_version(plan) < 2:
        status = f"{label} by a protocol v1 plan, void under v2 (no SESOI, no fingerprint)"
    elif plan_void:
        status = f"{label}; plan void: {plan_void}"
    elif str(p.get("not_testable", "") or "") not in ("", "nan"):
        status = f"planned not testable: {p['not_testable']}"
    else:
        status = label
    notes = []
    if str(p.get("metric", c.metric)) != c.metric:
        notes.append(f"the plan was made on {p['metric']}, the claim declares {c.metric}")
    if line["n"] and line["n"] < int(p["seeds"]):
        notes.append(f"only {line['n']} of the {int(p['seeds'])} planned seeds per row")
    if notes:
        status += " (" + "; ".join(notes) + ")"
    return {"planned_seeds": int(p["seeds"]), "planned_underpowered": under, "plan_status": status}


def judge(claim: Claim, runs: pd.DataFrame, level: float = 0.95, plan: pd.DataFrame | None = None,
          paper_metric: str | None = None, power: float = POWER, references: dict[str, float] | None = None,
          health: dict[str, list[str]] | None = None, floors: dict | None = None) -> dict:
    """The verdict on one claim alone (a family of one: no Holm adjustment). See :func:`judge_table`."""
    table = Table("one", "one claim", "", (), (), lambda preset: [], (claim,), floors=floors or {})
    v = {k: (x.item() if isinstance(x, np.generic) else x)
         for k, x in judge_table(table, runs, level, plan, health, references, power=power).iloc[0].to_dict().items()}
    if paper_metric is not None:
        v.update(paper_effect_line(claim, runs, paper_metric, v, level, power))
    return v


def paper_effect_line(claim: Claim, runs: pd.DataFrame, paper_metric: str, verdict: dict, level: float = 0.95,
                      power: float = POWER) -> dict:
    """The same comparison on the paper's own metric, reported beside the declared one (rule 1)."""
    if paper_metric == claim.metric and not claim.toward_real:
        return dict(paper_metric=paper_metric, paper_effect=verdict["effect"], paper_ci_low=verdict["ci_low"],
                    paper_ci_high=verdict["ci_high"])
    pm = comparisons(Claim(claim.id, claim.text, claim.better, claim.worse, paper_metric, paired=claim.paired),
                     runs, level, power)
    if len(pm) and (pm["n"] >= 1).all():
        r = pm.loc[pm["ci_low"].idxmin()]
        return dict(paper_metric=paper_metric, paper_effect=r["effect"], paper_ci_low=r["ci_low"],
                    paper_ci_high=r["ci_high"])
    return dict(paper_metric=paper_metric, paper_effect=np.nan, paper_ci_low=np.nan, paper_ci_high=np.nan)


def count_verdicts(verdicts: pd.DataFrame) -> dict[str, int]:
    """How many claims got each verdict kind (every kind listed, zero included; older kinds kept)."""
    kinds = list(VERDICTS) + sorted(set(verdicts["verdict"]) - set(VERDICTS)) if len(verdicts) else list(VERDICTS)
    return {k: int((verdicts["verdict"] == k).sum()) if len(verdicts) else 0 for k in kinds}


# ---------------------------------------------------------------------------------------------- planning

def metric_sd(pilot_runs: pd.DataFrame, metric: str, rows: list[str] | None = None) -> tuple[float, int, int]:
    """(pooled seed sd of ``metric``, rows pooled, degrees of freedom): the within-row spread pooled over
    every row scored on it (``rows``: only these), sqrt(Σ (n_i − 1) s_i² / Σ (n_i − 1))."""
    vals = _clean(pilot_runs)
    vals = vals[vals["metric"] == metric]
    if rows is not None:
        vals = vals[vals["row"].isin(rows)]
    g = vals.groupby("row")["value"].agg(["var", "count"])
    g = g[g["count"] >= 2]
    dof = int((g["count"] - 1).sum())
    if not dof:
        return math.nan, 0, 0
    return float(math.sqrt(((g["count"] - 1) * g["var"]).sum() / dof)), len(g), dof


def _fewest_seeds(vals: pd.DataFrame, rows: list[str], metric: str) -> int:
    """The fewest pilot seeds any of ``rows`` has on ``metric`` (0 when one has none)."""
    got = vals[(vals["metric"] == metric)].groupby("row").size()
    return int(min(got.get(r, 0) for r in rows))


def cell_hours(runs: pd.DataFrame) -> dict[str, float]:
    """Core-hours of one cell per row: the row's mean recorded wall time (one thread per cell)."""
    if not len(runs) or "wall_time_s" not in runs:
        return {}
    cells = runs.drop_duplicates(["row", "seed"])
    return {r: float(t) / 3600 for r, t in cells.groupby("row")["wall_time_s"].mean().items() if t == t}


def plan_table(table: Table, pilot_runs: pd.DataFrame, cap_hours: float = CAP_HOURS, power: float = POWER,
               alpha: float = ALPHA, min_seeds: int = MIN_SEEDS, health: dict[str, list[str]] | None = None,
               hours: dict[str, float] | None = None, definitions: dict | None = None,
               two_stage: tuple[int, float] | None = None) -> pd.DataFrame:
    """Seeds per row for every claim of ``table`` (PROTOCOL.md rule 4), columns :data:`PLAN_COLUMNS`.

    - The pilot supplies only the spread: each metric's seed sd pooled over every row scored on it
      (:func:`metric_sd`); a paired claim plans on √2 × that (the sd of a difference of independent seeds:
      pairing can only make it smaller).
    - Each claim needs the fewest seeds per row, at least ``min_seeds``, that detect its declared SESOI at
      the power each of its k intervals needs (``1 − 0.2/k``) and level ``alpha``.
    - Funding is per claim within ``cap_hours`` core-hours for the whole table: every row of a testable
      claim first gets ``min_seeds``; then claims are funded cheapest first (the core-hours to raise their
      rows to what they need, at ``hours`` per cell: the pilot's cell times by default) while the cap
      allows. A claim left unfunded is *underpowered* and runs at the seeds its rows get, with its MDE.
    - A claim that needs an unhealthy row (``health``) is *not testable* and gets no seeds for it.
    - ``definitions``: ``{"rows": {row: fingerprint}, "metrics": {metric: fingerprint}}``
      (:func:`bench.cells.row_definition`, :func:`bench.cells.metric_definition`), stored per claim.
    - ``two_stage``: ``(stage-1 seeds, α per stage)``, e.g. ``(4, 0.0294)`` (Pocock): declared here,
      before stage 1; both stages test at that α, and stage 2 adds seeds only to claims stage 1 left open.
    """
    health = health or {}
    hours = hours if hours is not None else cell_hours(pilot_runs)
    definitions = definitions or {}
    level = two_stage[1] if two_stage else alpha
    design = (f"two-stage: stage 1 at {two_stage[0]} seeds per row, stage 2 adds seeds to the claims stage 1 "
              f"leaves open; each stage tests at α = {two_stage[1]:g}" if two_stage else f"one stage at α = {alpha:g}")
    lines = []
    vals = _clean(pilot_runs)
    for c in table.claims:
        rows = [c.better, *c.worse]
        pe = power_each(c.comparisons, power)
        sd, n_rows, _ = metric_sd(pilot_runs, c.metric)
        sd_c = sd * math.sqrt(2) if c.paired else sd
        pilot_seeds = sorted({int(s) for s in vals[vals["row"].isin(rows)]["seed"]})
        notes = []
        if c.sesoi is None:
            need = math.inf
            notes.append("no SESOI declared: run at the minimum")
        else:
            need = seeds_needed(float(c.sesoi), sd_c, level, pe, c.paired, min_seeds=min_seeds)
        for g_metric, margin in c.guards:
            g = [compare(vals, c.better, r, g_metric, c.paired) for r in c.worse]
            bad = [x for x in g if x["n"] >= 2 and x["effect"] <= -float(margin)]
            if bad:
                notes.append(f"guard {g_metric} already fails in the pilot ("
                             + ", ".join(f"vs {x['rival']} {x['effect']:+.3g} ≤ −{margin:g}" for x in bad)
                             + "): the claim cannot be reproduced unless that changes; kept, never dropped")
        sick = [r for r in rows if health.get(r)]
        if not math.isfinite(sd):
            notes.append(f"no pilot spread for {c.metric}")
        lines.append({"claim": c.id, "metric": c.metric, "sesoi": c.sesoi, "paired": c.paired, "rows": " ".join(rows),
                      "pilot_seeds": " ".join(map(str, pilot_seeds)),
                      "pilot_n": _fewest_seeds(vals, rows, c.metric),
                      "sd": sd_c, "sd_rows": n_rows, "seeds_needed": need, "power_each": pe,
                      "not_testable": ("unhealthy: " + ", ".join(sick)) if sick else "",
                      "cap_core_h": float(cap_hours), "alpha": level, "design": design,
                      "row_definitions": json.dumps({r: definitions.get("rows", {}).get(r, "") for r in rows},
                                                    sort_keys=True),
                      "metric_definition": definitions.get("metrics", {}).get(c.metric, ""),
                      "note": "; ".join(notes), "_rows": rows, "_sd": sd_c})
    _fund(lines, hours, cap_hours, min_seeds)
    for ln in lines:
        ln["mde_at_seeds"] = mde(ln["_sd"], ln["seeds"], level, ln["power_each"], ln["paired"]) if ln["seeds"] >= 2 \
            else math.inf
    return pd.DataFrame([{k: ln.get(k) for k in PLAN_COLUMNS} for ln in lines], columns=PLAN_COLUMNS)


def _fund(lines: list[dict], hours: dict[str, float], cap_hours: float, min_seeds: int) -> None:
    """Give every testable claim's rows ``min_seeds``, then fund claims cheapest first within the cap."""
    seeds: dict[str, int] = {}
    for ln in lines:
        if not ln["not_testable"]:
            for r in ln["_rows"]:
                seeds[r] = max(seeds.get(r, 0), min_seeds)

    def cost(alloc: dict[str, int]) -> float:
        return sum(n * hours.get(r, math.nan) for r, n in alloc.items())

    def raised(ln) -> dict[str, int]:
        want = int(ln["seeds_needed"]) if math.isfinite(ln["seeds_needed"]) else None
        return {**seeds, **{r: max(seeds.get(r, 0), want) for r in ln["_rows"]}} if want else dict(seeds)

    floor_cost = cost(seeds)
    for ln in lines:
        need = ln["seeds_needed"]
        ln["cost_core_h"] = (float(need) * sum(hours.get(r, math.nan) for r in ln["_rows"])
                             if math.isfinite(need) else math.inf)
    todo = [ln for ln in lines if not ln["not_testable"] and math.isfinite(ln["seeds_needed"])]
    todo.sort(key=lambda ln: cost(raised(ln)) - cost(seeds))
    for ln in todo:
        new = raised(ln)
        total = cost(new)
        if total == total and total <= cap_hours:
            seeds = new
            ln["funded"] = True
    for ln in lines:
        ln["funded"] = bool(ln.get("funded", False))
        if ln["not_testable"]:
            ln["seeds"], ln["underpowered"] = 0, False
            continue
        ln["seeds"] = int(min(seeds.get(r, min_seeds) for r in ln["_rows"]))
        ln["underpowered"] = not ln["funded"]
    if floor_cost == floor_cost and floor_cost > cap_hours:
        for ln in lines:
            ln["note"] = "; ".join(x for x in (ln["note"], f"the floor of {min_seeds} seeds per row alone costs "
                                               f"{floor_cost:.1f} core-hours, over the cap") if x)


def plan_total_hours(plan: pd.DataFrame, hours: dict[str, float]) -> float:
    """Core-hours of the whole confirmatory run the plan asks for (each row at its largest planned seeds)."""
    return float(sum(n * hours.get(r, math.nan) for r, n in row_seeds(plan).items()))


def row_seeds(plan: pd.DataFrame) -> dict[str, int]:
    """Seeds per row the plan asks for: the most any of the row's claims gets (0 for a row no testable
    claim needs)."""
    seeds: dict[str, int] = {}
    for p in plan.itertuples():
        for r in str(p.rows).split():
            seeds[r] = max(seeds.get(r, 0), int(p.seeds))
    return seeds


def plan_void_reason(plan: pd.DataFrame | None, definitions: dict) -> str:
    """Why ``plan`` no longer fits today's row and metric definitions ("" when it does): the rows and
    metrics whose fingerprints changed since it was made (rule 4: the plan is then void)."""
    if plan_version(plan) < 2:
        return "" if plan is None else "made under protocol v1, without SESOIs or a fingerprint"
    changed_rows, changed_metrics = set(), set()
    for p in plan.itertuples():
        for r, fp in json.loads(p.row_definitions or "{}").items():
            if fp and definitions.get("rows", {}).get(r) != fp:
                changed_rows.add(r)
        mfp = str(p.metric_definition) if p.metric_definition == p.metric_definition else ""
        if mfp and definitions.get("metrics", {}).get(p.metric) != mfp:
            changed_metrics.add(p.metric)
    parts = []
    if changed_rows:
        parts.append("row definition changed since planning: " + ", ".join(sorted(changed_rows)))
    if changed_metrics:
        parts.append("metric definition changed since planning: " + ", ".join(sorted(changed_metrics)))
    return "; ".join(parts)


def pilot_mismatch(pilot_runs: pd.DataFrame, definitions: dict) -> str:
    """Why a pilot's cells cannot plan today's table ("" when they can): cells without a recorded row
    definition (made before protocol v2), or made under another definition of their row."""
    if "row_definition" not in pilot_runs or pilot_runs["row_definition"].isna().all():
        return ("the pilot's cells record no row definition (they predate protocol v2), so nothing shows they "
                "are today's rows: rerun the pilot")
    cells = pilot_runs.dropna(subset=["row_definition"]).drop_duplicates(["row", "seed"])
    bad = sorted({r for r, fp in zip(cells["row"], cells["row_definition"].astype(str))
                  if definitions.get("rows", {}).get(r) not in (None, fp)})
    if bad:
        return "the pilot's cells were made under other definitions of: " + ", ".join(bad)
    return ""


def open_claims(verdicts: pd.DataFrame) -> list[str]:
    """The claims a two-stage design's stage 2 adds seeds to: those stage 1 left inconclusive."""
    return list(verdicts.loc[verdicts["verdict"] == INCONCLUSIVE, "claim"])


def write_plan(plan: pd.DataFrame, path: Path) -> Path:
    """Write ``plan`` as CSV (``plan.csv`` beside the table's ``runs.csv``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plan.to_csv(path, index=False)
    return path


def read_plan(path: Path) -> pd.DataFrame | None:
    """A plan written by :func:`write_plan` (or an older one), or None when ``path`` does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    plan = pd.read_csv(path, dtype={"pilot_seeds": str, "row_definitions": str, "metric_definition": str,
                                    "not_testable": str, "note": str})
    for col in ("underpowered", "funded", "paired"):
        if col in plan:
            plan[col] = plan[col].astype(str).str.lower().isin(("true", "1"))
    for col in ("not_testable", "note", "row_definitions", "metric_definition"):
        if col in plan:
            plan[col] = plan[col].fillna("")
    return plan


def fresh_seeds(pilot_runs: pd.DataFrame, n: int) -> list[int]:
    """``n`` training seeds the pilot did not use (PROTOCOL.md rule 5): the ones after its largest."""
    used = pd.to_numeric(pilot_runs["seed"], errors="coerce").dropna() if len(pilot_runs) else pd.Series([], float)
    start = int(used.max()) + 1 if len(used) else 0
    return list(range(start, start + n))

"""Aggregation across training seeds and the verdict on each claim.

A claim "A beats B on metric m" is judged on the difference of the per-seed means with a Welch
t confidence interval (95% by default): *reproduced* when the whole interval lies on the claimed
side of zero, *contradicted* when it lies wholly on the other side, *inconclusive* otherwise
(including when fewer than two seeds per row are available: no spread, no verdict).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from bench.spec import HIGHER_IS_BETTER, Claim

REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive"


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


def welch_ci(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean(a) − mean(b), low, high): Welch's t interval for the difference of means."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = a.mean() - b.mean()
    if len(a) < 2 or len(b) < 2:
        return diff, -math.inf, math.inf
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / ((va ** 2) / (len(a) - 1) + (vb ** 2) / (len(b) - 1))
    half = stats.t.ppf(0.5 + level / 2, dof) * se
    return diff, diff - half, diff + half


def judge(claim: Claim, runs: pd.DataFrame, level: float = 0.95) -> dict:
    """Verdict on ``claim`` from per-seed values. The effect is signed so that positive means
    "as the paper claims" (for lower-is-better metrics such as FID the sign is flipped)."""
    vals = runs[(runs["metric"] == claim.metric)].dropna(subset=["value"]).drop_duplicates(
        ["row", "seed"], keep="last")
    per_row = {r: vals[vals["row"] == r]["value"].to_numpy() for r in (claim.better, *claim.worse)}
    missing = [r for r, v in per_row.items() if len(v) == 0]
    base = {"claim": claim.id, "text": claim.text, "metric": claim.metric, "better": claim.better,
            "worse": ", ".join(claim.worse)}
    if missing:
        return {**base, "rival": ", ".join(claim.worse), "effect": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0,
                "verdict": INCONCLUSIVE, "why": f"no results for {', '.join(missing)}"}
    sign = 1.0 if HIGHER_IS_BETTER.get(claim.metric, True) else -1.0
    # against several rows: compare with the one whose mean is best (the hardest comparison)
    rival = max(claim.worse, key=lambda r: sign * per_row[r].mean())
    diff, lo, hi = welch_ci(per_row[claim.better], per_row[rival], level)
    eff, lo, hi = sign * diff, *sorted((sign * lo, sign * hi))
    n = min(len(per_row[claim.better]), len(per_row[rival]))
    if n < 2:
        verdict, why = INCONCLUSIVE, "fewer than 2 seeds per row: no spread to judge against"
    elif lo > 0:
        verdict, why = REPRODUCED, f"the {int(level * 100)}% CI lies above zero"
    elif hi < 0:
        verdict, why = CONTRADICTED, f"the {int(level * 100)}% CI lies below zero"
    else:
        verdict, why = INCONCLUSIVE, f"the {int(level * 100)}% CI contains zero (effect inside the seed noise)"
    return {**base, "rival": rival, "effect": eff, "ci_low": lo, "ci_high": hi, "n": n, "verdict": verdict,
            "why": why}

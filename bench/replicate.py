"""``--replicate ROW --seeds K``: does a row retrained elsewhere agree with the committed row, statistically?

Bit-exact ``--verify`` holds only on the same machine class with the locked environment (PROTOCOL.md rule
17). Anywhere else a reader retrains K fresh seeds of a row and asks whether their mean agrees with the
committed seeds' within the smallest effect of interest the table declares for each metric (rule 4): two
one-sided Welch t-tests against ±SESOI (statsmodels ``ttost_ind``, through :func:`bench.stats.tost`).

Per metric: *agrees within ±SESOI* (TOST p < α), *differs* (two-sided Welch p < α with the difference
outside ±SESOI), or *inconclusive* (neither: more seeds would tell).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.stats import ALPHA, fresh_seeds, tost, welch_test

AGREES, DIFFERS, INCONCLUSIVE = "agrees within ±SESOI", "differs", "inconclusive"
COLUMNS = ["row", "metric", "sesoi", "committed_mean", "committed_sd", "committed_n", "committed_seeds", "new_mean",
           "new_sd", "new_n", "new_seeds", "diff", "ci90_low", "ci90_high", "p_tost", "p_welch", "verdict"]


def parse_sesoi(items: list[str]) -> dict[str, float]:
    """``--sesoi METRIC=VALUE`` overrides as ``{metric: value}``.

    Raises:
        ValueError: an item is not ``METRIC=VALUE`` with a positive number.
    """
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        if not name.strip() or not v > 0:
            raise ValueError(f"--sesoi expects METRIC=VALUE with a positive VALUE, got {item!r}")
        out[name.strip()] = v
    return out


def request_problem(row: str, metrics: list[str], overrides: dict[str, float], sesoi: dict[str, float | None],
                    k: int) -> str:
    """Why ``--replicate ROW`` cannot run as asked, or ``""``: no committed cell of the row, a ``--sesoi`` for a
    metric the row is not scored on, no SESOI for any of its ``metrics``, or fewer than 2 new seeds ``k``."""
    if not metrics:
        return f"no finished cell of {row} to compare with"
    if extra := sorted(set(overrides) - set(metrics)):
        return f"--sesoi names metrics {extra} that {row} is not scored on ({metrics})"
    if all(sesoi.get(m) is None for m in metrics):
        return f"no claim declares a SESOI on {row}'s metrics {metrics}: pass --sesoi METRIC=VALUE"
    if k < 2:
        return f"--replicate needs at least 2 new seeds (--seeds {k})"
    return ""


def cell_values(runs: pd.DataFrame, row: str, fingerprint: str | None = None) -> pd.DataFrame:
    """The successful ``(seed, metric, value)`` lines of ``row`` (the last line of each), of the code
    ``fingerprint`` only when given."""
    ok = runs[(runs["row"] == row)].dropna(subset=["value"])
    if fingerprint is not None:
        column = ok["code_fingerprint"] if "code_fingerprint" in ok else pd.Series("", index=ok.index)
        ok = ok[column.astype(str) == fingerprint]
    ok = ok.assign(seed=ok["seed"].astype(int))
    return ok.drop_duplicates(["seed", "metric"], keep="last")[["seed", "metric", "value"]]


next_seeds = fresh_seeds  # ``k`` training seeds after the largest one the committed cells hold


def agreement(new: np.ndarray, committed: np.ndarray, sesoi: float) -> dict:
    """Equivalence of mean(new) and mean(committed) within ±``sesoi``: the difference with its 90% Welch
    interval (the interval the TOST at α = 0.05 reads), the TOST p, the two-sided Welch p, and the verdict."""
    new, committed = np.asarray(new, float), np.asarray(committed, float)
    t = welch_test(new, committed, level=1 - 2 * ALPHA)
    p_tost = tost(new, committed, sesoi)
    if p_tost < ALPHA:
        verdict = AGREES
    elif t["p"] < ALPHA and abs(t["diff"]) > sesoi:
        verdict = DIFFERS
    else:
        verdict = INCONCLUSIVE
    return {"diff": t["diff"], "ci90_low": t["low"], "ci90_high": t["high"], "p_tost": p_tost, "p_welch": t["p"],
            "verdict": verdict}


def _summary(values: pd.Series) -> dict:
    v = values.to_numpy(float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else math.nan, "n": len(v)}


def compare_row(row: str, committed: pd.DataFrame, new: pd.DataFrame, sesoi: dict[str, float | None]) -> pd.DataFrame:
    """One line per metric of the committed row that has a SESOI (:data:`COLUMNS`), in the committed order.

    Args:
        committed, new: ``(seed, metric, value)`` lines (:func:`cell_values`).
        sesoi: metric -> SESOI (None: no claim declares one; the metric is left out).
    """
    lines = []
    for metric in dict.fromkeys(committed["metric"]):
        if sesoi.get(metric) is None:
            continue
        a = committed[committed["metric"] == metric].sort_values("seed")
        b = new[new["metric"] == metric].sort_values("seed")
        ca, cb = _summary(a["value"]), _summary(b["value"]) if len(b) else {"mean": math.nan, "sd": math.nan, "n": 0}
        test = agreement(b["value"], a["value"], sesoi[metric]) if len(b) else {
            "diff": math.nan, "ci90_low": math.nan, "ci90_high": math.nan, "p_tost": math.nan, "p_welch": math.nan,
            "verdict": INCONCLUSIVE}
        lines.append({"row": row, "metric": metric, "sesoi": sesoi[metric], "committed_mean": ca["mean"],
                      "committed_sd": ca["sd"], "committed_n": ca["n"],
                      "committed_seeds": " ".join(map(str, a["seed"])), "new_mean": cb["mean"], "new_sd": cb["sd"],
                      "new_n": cb["n"], "new_seeds": " ".join(map(str, b["seed"])), **test})
    return pd.DataFrame(lines, columns=COLUMNS)


def format_lines(result: pd.DataFrame) -> list[str]:
    """Human-readable lines, one per metric: committed mean±sd (n), new mean±sd (K), the difference with
    its 90% CI, the TOST p and the verdict."""
    out = []
    for r in result.itertuples():
        out.append(f"{r.metric}: committed {r.committed_mean:.4g}±{r.committed_sd:.3g} (n={r.committed_n}), "
                   f"new {r.new_mean:.4g}±{r.new_sd:.3g} (n={r.new_n}); difference {r.diff:+.4g} "
                   f"[90% CI {r.ci90_low:+.4g}, {r.ci90_high:+.4g}], SESOI ±{r.sesoi:g}, TOST p {r.p_tost:.3g}: "
                   f"{r.verdict}")
    return out

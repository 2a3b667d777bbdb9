"""``--replicate``'s statistics: an equivalence test of new seeds against the committed row within ±SESOI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench import replicate as rp


def _lines(seeds, metric, values):
    return pd.DataFrame({"seed": list(seeds), "metric": metric, "value": list(values)})


def test_close_means_agree_far_ones_differ_and_a_few_noisy_seeds_are_inconclusive():
    rng = np.random.default_rng(0)
    committed = 10 + 0.1 * rng.standard_normal(6)
    assert rp.agreement(10 + 0.1 * rng.standard_normal(6), committed, 1.0)["verdict"] == rp.AGREES
    far = rp.agreement(13 + 0.1 * rng.standard_normal(6), committed, 1.0)
    assert far["verdict"] == rp.DIFFERS and far["ci90_low"] > 1.0 and far["p_welch"] < 0.05
    noisy = rp.agreement(10 + 3 * rng.standard_normal(2), committed, 1.0)
    assert noisy["verdict"] == rp.INCONCLUSIVE and noisy["p_tost"] >= 0.05
    # significant but inside ±SESOI is not "differs"
    near = rp.agreement(10.5 + 0.01 * rng.standard_normal(5), 10.0 + 0.01 * rng.standard_normal(5), 1.0)
    assert near["verdict"] == rp.AGREES


def test_compare_row_tests_only_metrics_with_a_sesoi_against_the_committed_seeds():
    committed = pd.concat([_lines(range(4), "fid", [10.0, 10.2, 9.9, 10.1]), _lines(range(4), "is_mean", [2, 2, 2, 2])])
    new = pd.concat([_lines([4, 5, 6], "fid", [10.05, 9.95, 10.1]), _lines([4, 5, 6], "is_mean", [2, 2, 2])])
    out = rp.compare_row("r", committed, new, {"fid": 2.0, "is_mean": None})
    assert list(out.columns) == rp.COLUMNS and out["metric"].tolist() == ["fid"]
    line = out.iloc[0]
    assert line["committed_n"] == 4 and line["new_n"] == 3 and line["new_seeds"] == "4 5 6"
    assert line["diff"] == pytest.approx(np.mean([10.05, 9.95, 10.1]) - 10.05) and line["verdict"] == rp.AGREES
    text = rp.format_lines(out)[0]
    assert text.startswith("fid: committed 10.05±0.129 (n=4), new 10.03±0.0764 (n=3); difference -0.01667")
    assert "90% CI" in text and "TOST p" in text and text.endswith(rp.AGREES)
    assert rp.next_seeds(committed, 3) == [4, 5, 6]


def test_sesoi_overrides_and_requests_are_checked():
    assert rp.parse_sesoi(["fid=2", "diversity=0.03"]) == {"fid": 2.0, "diversity": 0.03}
    for bad in ("fid", "fid=-1", "=2", "fid=x"):
        with pytest.raises(ValueError, match="METRIC=VALUE"):
            rp.parse_sesoi([bad])
    assert rp.request_problem("r", ["fid"], {}, {"fid": 2.0}, 3) == ""
    assert "no finished cell" in rp.request_problem("r", [], {}, {}, 3)
    assert "not scored on" in rp.request_problem("r", ["fid"], {"recall": 0.1}, {"fid": 2.0}, 3)
    assert "pass --sesoi" in rp.request_problem("r", ["fid"], {}, {"fid": None}, 3)
    assert "at least 2" in rp.request_problem("r", ["fid"], {}, {"fid": 2.0}, 1)

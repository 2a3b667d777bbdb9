"""The results index (python -m bench.index): tables found by their verdicts.csv, effects in SESOI units."""
import pandas as pd
import pytest

from bench.index import collect, main


def _verdicts(folder, lines):
    folder.mkdir(parents=True)
    pd.DataFrame(lines).to_csv(folder / "verdicts.csv", index=False)


def test_every_claim_of_every_table_is_indexed_and_scaled_by_its_sesoi(tmp_path):
    base = {"better": "a", "worse": "b", "rival": "b", "n": 4, "why": "x | y"}
    _verdicts(tmp_path / "toy", [
        {**base, "claim": "big", "text": "A beats B", "metric": "fid", "sesoi": 2.0, "effect": 6.0, "ci_low": 4.0,
         "ci_high": 8.0, "verdict": "reproduced"},
        {**base, "claim": "none", "text": "A matches B", "metric": "fid", "sesoi": 2.0, "effect": 0.2,
         "ci_low": -0.5, "ci_high": 0.9, "verdict": "absent"}])
    _verdicts(tmp_path / "other", [{**base, "claim": "c", "text": "C helps", "metric": "cond_acc", "sesoi": 0.03,
                                    "effect": -0.06, "ci_low": -0.09, "ci_high": -0.03, "verdict": "contradicted"}])
    (tmp_path / "empty").mkdir()  # a folder without verdicts is not a table
    claims = collect(tmp_path)
    assert set(claims["table"]) == {"toy", "other"} and len(claims) == 3
    big = claims.set_index("claim").loc["big"]
    assert (big["scaled_effect"], big["scaled_ci_low"], big["scaled_ci_high"]) == (3.0, 2.0, 4.0)
    assert claims.set_index("claim").loc["c", "scaled_effect"] == pytest.approx(-2.0)
    assert main(["--results", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "| `toy` | 2 | 1 | 0 | 1 | 0 | 0 |" in text and "| **all** | **3** |" in text
    assert "C helps" in text and "**contradicted**" in text and "x \\| y" in text  # a | in a reason stays in its cell
    assert (tmp_path / "forest.png").stat().st_size > 10_000
    assert "other/report.html" in (tmp_path / "index.html").read_text()

"""The report's summary, provenance statement, verdict table and exploratory Holm table, on synthetic runs."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bench.report import _claims_on_every_metric, provenance, update_readme, write_outputs
from bench.spec import Claim, Row, Table, Unit
from bench.stats import holm, plan_table, write_plan

ROWS = [Row("base", "Base", Unit("m", {})), Row("ca", "With CA", Unit("m", {"ca": True})),
        Row("tiny", "Tiny change", Unit("m", {"t": 1}))]
CLAIMS = (Claim("ca", "CA adds diversity", "ca", ("base",), "diversity", why="CA samples the condition",
                guards=(("cond_acc", 0.02),)),
          Claim("ca-free", "CA adds diversity (no guard)", "ca", ("base",), "diversity", why="same"),
          Claim("tiny", "The tiny change helps", "tiny", ("base",), "diversity"),
          Claim("best", "CA beats both", "ca", ("base", "tiny"), "diversity"))
TABLE = Table(paper="toy", title="Toy table", dataset="shapes", metrics=("is",),
              display=("is_mean", "diversity", "cond_acc"), rows_for=lambda p: ROWS, claims=CLAIMS)
MEANS = {"base": {"is_mean": 3.0, "diversity": 0.20, "cond_acc": 0.60},
         "ca": {"is_mean": 3.0, "diversity": 0.40, "cond_acc": 0.55},
         "tiny": {"is_mean": 3.0, "diversity": 0.201, "cond_acc": 0.60}}
NOISE = [0.0, 0.01, -0.01, 0.005, -0.005]


def make_runs(seeds, sha="abc1234", fingerprint="f00d", device="cpu", threads=1) -> pd.DataFrame:
    recs = []
    for s in seeds:
        for r, ms in MEANS.items():
            for m, v in ms.items():
                recs.append({"row": r, "seed": s, "metric": m, "value": v + NOISE[s % 5] * (1 + (m == "is_mean")),
                             "preset": "quick", "dataset": "shapes", "git_sha": sha, "code_fingerprint": fingerprint,
                             "device": device, "threads": threads, "checkpoint": np.nan, "wall_time_s": 60.0,
                             "error": ""})
    return pd.DataFrame(recs)


def write(out, runs, **kw):
    out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(out / "runs.csv", index=False)
    args = SimpleNamespace(preset="quick", dataset="shapes")
    res = write_outputs(TABLE, ROWS, args, out, command="python -m bench.ablations --paper toy", wall_time_s=1.0,
                        n_seeds=runs["seed"].nunique(), machine="test", **kw)
    return res, (out / "report.md").read_text()


def test_report_from_one_clean_commit_states_it_and_its_command(tmp_path):
    res, text = write(tmp_path / "a", make_runs(range(4)))
    assert text.index("## Summary") < text.index("## Run") < text.index("## Table")
    assert "every cell comes from commit `abc1234`, code fingerprint `f00d`" in text
    assert "git checkout abc1234\npython -m bench.ablations --paper toy" in text
    assert "Not reproducible" not in text and "Device kind: cpu; torch threads per cell: 1" in text
    v = res["verdicts"].set_index("claim")
    # the guard (cond_acc falls 0.05 > 0.02) stops CA's diversity claim; without the guard it holds
    assert v.loc["ca", "verdict"] == "inconclusive" and v.loc["ca-free", "verdict"] == "reproduced"
    assert v.loc["ca", "paper_metric"] == "is_mean" and v.loc["ca", "paper_ci_low"] < 0 < v.loc["ca", "paper_ci_high"]
    summary = text.split("## Summary")[1].split("## Run")[0]
    assert "**Reproduced:** *CA adds diversity (no guard)*" in summary
    assert "favours the claim, but its guard fails" in summary
    assert "**Plan:** none was declared" in summary  # no plan.csv: nothing was sized to a SESOI
    assert "| MDE (80% power) |" in text and "| p (Holm) |" in text and "## Seed plan" not in text
    assert "CA samples the condition" in text and "guard: `cond_acc` may not fall by more than 0.02" in text
    assert (tmp_path / "a" / "comparisons.csv").is_file() and (tmp_path / "a" / "verdicts.csv").is_file()
    cmp = pd.read_csv(tmp_path / "a" / "comparisons.csv")
    assert set(cmp[cmp["claim"] == "best"]["rival"]) == {"base", "tiny"}  # per-rival effects are written


def test_report_from_mixed_or_dirty_commits_says_so_instead_of_listing_hashes(tmp_path):
    runs = pd.concat([make_runs([0, 1], sha="aaa111"), make_runs([2], sha="bbb222-dirty", fingerprint="beef")])
    _, text = write(tmp_path / "b", runs)
    summary = text.split("## Summary")[1].split("## Run")[0]
    assert "**Not reproducible from one commit.**" in summary
    assert "2 commits" in summary and "3 of 9 cells from a tree with uncommitted changes" in summary
    assert "2 code fingerprints" in summary
    assert "aaa111" not in text and "bbb222" not in text
    assert "**This command does not regenerate the numbers above**" in text and "git checkout" not in text
    p = provenance(make_runs([0], sha="ccc-dirty"))
    assert not p["single"] and p["dirty"] == 3
    old = make_runs([0, 1]).drop(columns=["code_fingerprint", "device", "threads"])  # a pre-fingerprint runs.csv
    assert provenance(old)["single"] and provenance(old)["fingerprints"] is None


def test_mixed_devices_are_flagged(tmp_path):
    runs = pd.concat([make_runs([0, 1]), make_runs([2], device="cuda: H200")])
    _, text = write(tmp_path / "d", runs)
    assert "not one device kind and one thread count" in text


def test_a_declared_plan_stands_beside_the_verdicts_and_reused_pilot_seeds_are_flagged(tmp_path):
    sized = tuple(Claim(c.id, c.text, c.better, c.worse, c.metric, why=c.why, guards=c.guards, sesoi=0.05)
                  for c in CLAIMS)
    table = Table(paper="toy", title="Toy table", dataset="shapes", metrics=("is",),
                  display=("is_mean", "diversity", "cond_acc"), rows_for=lambda p: ROWS, claims=sized)
    pilot = make_runs(range(3))
    plan = plan_table(table, pilot, cap_hours=0.1)  # the floor alone (3 rows x 4 seeds x 1 min) fits; nothing more
    out = tmp_path / "c"
    out.mkdir()
    write_plan(plan, out / "plan.csv")  # found by default beside runs.csv
    runs = make_runs(range(3, 8))
    runs.to_csv(out / "runs.csv", index=False)
    res = write_outputs(table, ROWS, SimpleNamespace(preset="quick", dataset="shapes"), out, command="x",
                        wall_time_s=1.0, n_seeds=5, machine="test")
    text = (out / "report.md").read_text()
    v = res["verdicts"].set_index("claim")
    assert v.loc["ca-free", "verdict"] == "reproduced"  # the data's verdict, whatever the plan's label
    assert v.loc["tiny", "verdict"] == "absent"  # +0.001 with a tight spread: inside ±0.05
    summary = text.split("## Summary")[1].split("## Run")[0]
    assert summary.index("Health gates") < summary.index("Not testable") < summary.index("**Reproduced:**")
    assert "**Absent**" in summary and "## Seed plan" in text and "reuse the pilot's training seeds" not in summary
    _, text = write(tmp_path / "e", make_runs(range(3)), plan=plan)  # the pilot's own seeds again
    assert "**These cells reuse the pilot's training seeds** (0, 1, 2)" in text


def test_report_starts_with_unhealthy_rows_and_untestable_claims(tmp_path):
    _, text = write(tmp_path / "h", make_runs(range(4)), health={"base": ["fid 60 > 27 (fid <= 0.5 x noise)"]})
    summary = text.split("## Summary")[1].split("## Run")[0]
    assert summary.index("**Unhealthy rows**") < summary.index("**Not testable:**") < summary.index("**Reproduced:**")
    assert "`base` — fid 60 > 27" in summary and "*CA adds diversity* — unhealthy row(s)" in summary


def test_exploratory_table_bolds_only_holm_survivors():
    runs = make_runs(range(5))
    # tiny vs base on diversity: +0.0145 with a seed sd of 0.008 (p ≈ 0.02): excludes zero unadjusted only
    runs.loc[(runs["row"] == "tiny") & (runs["metric"] == "diversity"), "value"] += 0.0145
    lines = "\n".join(_claims_on_every_metric(TABLE, runs, ["is_mean", "diversity", "cond_acc"]))
    assert "(exploratory)" in lines and "Holm" in lines
    rows = [ln for ln in lines.splitlines() if ln.startswith("| ") and not ln.startswith("| claim")]
    # one line per (better, rival): ca-base (once, restated claims collapse), tiny-base, ca-tiny
    assert len(rows) == 3 and sum("— vs `tiny`" in r for r in rows) == 1
    from bench.stats import comparisons

    ps = [comparisons(Claim("x", "x", b, (r,), m), runs).iloc[0]["p"]
          for b, r in (("ca", "base"), ("tiny", "base"), ("ca", "tiny")) for m in ("is_mean", "diversity", "cond_acc")]
    survive = int(np.sum(holm(ps) < 0.05))
    raw = int(np.sum(np.array(ps) < 0.05))
    assert survive < raw  # an interval excludes zero unadjusted but not after Holm: it must not be bold
    assert f"{raw} do" in lines and f"the {survive} of 9" in lines
    assert lines.count("**+") + lines.count("**-") == survive


def test_readme_copy_includes_the_summary(tmp_path):
    out = tmp_path / "results" / "toy"
    write(out, make_runs(range(3)))
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- toy-results:start -->\n<!-- toy-results:end -->\n")
    assert update_readme(readme, "toy", out / "report.md")
    text = readme.read_text()  # one line: the verdict counts of the table's verdicts.csv and the report's link
    counts = pd.read_csv(out / "verdicts.csv")["verdict"].value_counts()
    assert text.count("\n") == 4 and "(results/toy/report.md)" in text
    assert all(f"{n} {v}" in text for v, n in counts.items())


@pytest.mark.parametrize("bad", [("cond_acc", -0.1), ("cond_acc",)])
def test_claim_rejects_malformed_guards(bad):
    with pytest.raises(ValueError):
        Claim("c", "x", "a", ("b",), guards=(bad,))
    with pytest.raises(ValueError):
        Claim("c", "x", "a", "b")  # a string, not a tuple of rows


def test_a_health_file_that_measured_nothing_claims_no_healthy_row(tmp_path):
    from bench.health import HEALTH_COLUMNS, write_health

    out = tmp_path / "n"
    out.mkdir()
    frame = pd.DataFrame([{"row": r.id, "gate": "fid <= 0.5 x noise", "metric": "fid", "value": np.nan,
                           "threshold": np.nan, "passed": None, "seeds": 0, "split": "val",
                           "note": "not measured: checkpoint missing"} for r in ROWS], columns=HEALTH_COLUMNS)
    write_health(frame, out / "health.csv")
    _, text = write(out, make_runs(range(3)))
    summary = text.split("## Summary")[1].split("## Run")[0]
    assert "every measured row passes" not in summary and "**Health not measured**" in summary


def test_unhealthy_rows_from_a_health_file_lead_the_summary(tmp_path):
    from bench.health import HEALTH_COLUMNS, write_health

    out = tmp_path / "u"
    out.mkdir()
    frame = pd.DataFrame([{"row": "base", "gate": "recall >= 0.05", "metric": "recall", "value": 0.0,
                           "threshold": 0.05, "passed": False, "seeds": 1, "split": "val", "note": ""},
                          {"row": "ca", "gate": "recall >= 0.05", "metric": "recall", "value": np.nan,
                           "threshold": np.nan, "passed": None, "seeds": 0, "split": "val",
                           "note": "not measured: checkpoint missing"}], columns=HEALTH_COLUMNS)
    write_health(frame, out / "health.csv")
    res, text = write(out, make_runs(range(3)))
    summary = text.split("## Summary")[1].split("## Run")[0]
    assert "**Unhealthy rows**" in summary and "`base` — recall 0 < 0.05" in summary
    assert "**Health not measured**" in summary and "`ca`" in summary.split("**Health not measured**")[1]
    assert (res["verdicts"].set_index("claim").loc["ca", "verdict"]) == "not testable"

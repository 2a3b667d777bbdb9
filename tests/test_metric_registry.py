"""The metric registry (:mod:`core.metrics.registry`, issues #28 and #29): every metric ``evaluate`` computes is
registered with its score keys, their directions and meanings; ``evaluate`` is a loop over it and gives the
scores it gave before the registry (``tests/golden/metric_registry_scores.json``); no metric direction is
written anywhere else."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

from bench import spec as bench_spec
from core.metrics import DEFAULT_METRICS, METRICS, MetricsError, evaluate, registry
from core.metrics.registry import DIRECTIONS, ScoreKey
from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import train

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = json.loads((ROOT / "tests" / "golden" / "metric_registry_scores.json").read_text())
# as tests/test_golden.py: float results depend on the CPU's kernels and thread count; equal on one machine
RTOL, ATOL = 1e-4, 1e-5


def test_evaluate_computes_exactly_the_registered_metrics():
    assert METRICS == registry.names() == ("is", "fid", "kid", "prc", "cond_acc", "diversity", "diversity_detail",
                                           "normals", "normal_maps")
    assert DEFAULT_METRICS == ("is", "fid", "kid", "prc", "cond_acc", "diversity")
    keys = [k.key for m in registry.metrics() for k in m.keys]
    assert len(keys) == len(set(keys))
    for m in registry.metrics():
        assert callable(m.compute) and m.keys
        for k in m.keys:
            assert k.direction in DIRECTIONS and k.unit and k.label and k.meaning, k
            assert not k.meaning.endswith("."), k  # callers punctuate


def test_directions_and_words_of_well_known_keys():
    lower = ("fid", "kid_mean", "inception_fid", "inception_kid_mean", "normal_error_deg", "normal_error_deg_relief",
             "structure_fd")
    higher = ("is_mean", "inception_is_mean", "precision", "recall", "f_score", "cond_acc", "cond_acc_all",
              "cond_acc_shape", "cond_acc_texture")
    assert {registry.direction(k) for k in lower} == {"lower"}
    assert {registry.direction(k) for k in higher} == {"higher"}
    assert registry.direction("diversity") == registry.direction("diversity_detail") == "two-sided"
    assert not any(registry.higher_is_better(k) for k in lower)
    assert all(registry.higher_is_better(k) for k in higher + ("diversity",))  # two-sided: more, short of real
    assert registry.owner("recall") == "prc" and registry.owner("inception_fid") == "fid"
    assert registry.owner("cond_acc_shape") == "cond_acc" and registry.owner("normal_error_deg_relief") == "normals"
    assert registry.label("fid") == "FID" and registry.label("inception_fid") == "Inception FID"
    assert registry.label("cond_acc_shape") == "shape accuracy" and "the shape" in registry.meaning("cond_acc_shape")
    assert registry.unit("normal_error_deg") == "degrees" and "Fréchet" in registry.meaning("fid")


def test_unknown_metrics_and_keys_fail_listing_the_known_ones():
    with pytest.raises(MetricsError, match=r"unknown metric 'sharpness'.*'fid'.*'cond_acc'.*'normals'"):
        registry.metric("sharpness")
    with pytest.raises(MetricsError, match=r"'sharpness' is not a score key.*'fid'.*'cond_acc_<attribute>'"):
        registry.direction("sharpness")
    assert not registry.is_score_key("log:loss_d") and not registry.is_score_key("cond_acc_")
    with pytest.raises(MetricsError, match=r"unknown or empty metrics \['sharpness'\].*'diversity_detail'"):
        evaluate(object(), "shapes", metrics=["fid", "sharpness"], n=4)


def test_register_refuses_a_second_metric_of_a_name_or_key_and_a_bad_direction():
    with pytest.raises(ValueError, match="direction must be one of"):
        ScoreKey("x", "up", "fraction", "x", "an x")
    with pytest.raises(ValueError, match="unit, label and meaning"):
        ScoreKey("x", "higher", "fraction", "x", "")
    key = ScoreKey("x_new", "higher", "fraction", "x", "an x")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("fid", (key,))(lambda run: {})
    with pytest.raises(ValueError, match=r"\['recall'\] belong to another metric"):
        registry.register("new", (key, ScoreKey("recall", "higher", "fraction", "r", "r")))(lambda run: {})
    assert "new" not in registry.names()


def test_bench_and_demo_read_directions_and_words_from_the_registry():
    assert not hasattr(bench_spec, "HIGHER_IS_BETTER")
    assert not bench_spec.higher_is_better("fid") and bench_spec.higher_is_better("cond_acc_texture")
    assert bench_spec.higher_is_better("log:loss_d")  # not a score key: read as higher, as before
    pytest.importorskip("gradio")
    from demo import results_tab

    for key, (name, better, meaning) in results_tab.METRICS.items():
        assert (name, meaning) == (registry.label(key), registry.meaning(key))
        assert better == ("higher" if registry.higher_is_better(key) else "lower")
    assert results_tab.metric_name("fid") == "FID ↓" and results_tab.metric_name("recall") == "recall ↑"


# ------------------------------------------------------------------------- no direction outside the registry

def _directions_in(value: ast.AST) -> bool:
    """Whether ``value`` is a direction: True/False, "higher"/"lower"/"two-sided", or a tuple holding one."""
    if isinstance(value, ast.Constant):
        return isinstance(value.value, bool) or value.value in DIRECTIONS
    if isinstance(value, (ast.Tuple, ast.List)):
        return any(isinstance(e, ast.Constant) and e.value in DIRECTIONS for e in value.elts)
    return False


def _is_metric_key(node: ast.AST | None) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)
            and (registry.is_score_key(node.value) or node.value in registry.names()))


def direction_literals(source: str) -> list[int]:
    """Lines of ``source`` that write a metric's direction: a dict literal (or ``dict(...)``) mapping a score
    key or metric name to a direction, or an item assignment ``x["fid"] = (..., "lower", ...)``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        pairs = []
        if isinstance(node, ast.Dict):
            pairs = list(zip(node.keys, node.values))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            pairs = [(ast.Constant(k.arg), k.value) for k in node.keywords if k.arg]
        elif isinstance(node, ast.Assign):
            pairs = [(t.slice, node.value) for t in node.targets if isinstance(t, ast.Subscript)]
        lines += [node.lineno for key, value in pairs if _is_metric_key(key) and _directions_in(value)]
    return sorted(set(lines))


def test_the_direction_scan_finds_the_tables_the_registry_replaced():
    assert direction_literals('HIGHER_IS_BETTER = {"is_mean": True, "fid": False}') == [1]
    assert direction_literals('METRICS = {\n"fid": ("FID", "lower", "how far")}') == [1]
    assert direction_literals('out = {}\nout["cond_acc_shape"] = ("shape", "higher", "x")') == [2]
    assert direction_literals('d = dict(recall=True)') == [1]
    assert direction_literals('floors = {"cond_acc_texture": 0.25}\nnames = {"fid": "FID"}') == []


def test_no_metric_direction_is_written_outside_the_registry():
    found = {}
    for package in ("core", "bench", "demo"):
        for f in sorted((ROOT / package).rglob("*.py")):
            lines = direction_literals(f.read_text())
            if lines:
                found[str(f.relative_to(ROOT))] = lines
    assert not found, f"metric directions written outside core/metrics/registry (read them from it): {found}"


# ----------------------------------------------------------------------------------- evaluate equals the golden

@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """The golden's smoke runs, trained here (``{other run}`` in an override: that run's directory)."""
    root, done = tmp_path_factory.mktemp("registry"), {}
    for name, (model, overrides) in GOLDEN["runs"].items():
        paths = {n: str(p) for n, p in done.items()}
        over = {k: ([x.format(**paths) for x in v] if isinstance(v, list) else v) for k, v in overrides.items()}
        done[name] = train(build_config(model, "smoke", over), root / name, progress=False)
    return done


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(GOLDEN["cases"]))
def test_evaluate_on_smoke_checkpoints_equals_the_golden_and_writes_only_registered_keys(smoke_runs, case):
    c = GOLDEN["cases"][case]
    got = evaluate(Pipeline.from_checkpoint(smoke_runs[c["run"]]), **GOLDEN["common"], **c["evaluate"])
    assert list(got) == list(c["scores"])  # the same keys, in the same order
    torch.testing.assert_close(torch.tensor(list(got.values()), dtype=torch.float64),
                               torch.tensor(list(c["scores"].values()), dtype=torch.float64), rtol=RTOL, atol=ATOL)
    chosen = set(got.meta["metrics"])
    for key in got:
        entry = registry.spec(key)
        assert entry.direction in DIRECTIONS and entry.meaning and registry.owner(key) in chosen, key

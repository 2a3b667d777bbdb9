"""The cross-dataset contract of core/data/base.py: one normal frame, the generic ``size`` option,
captionless StackGAN releases and the dataset traits metrics read instead of dataset names."""
from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch

from core.data import DatasetError, DatasetSubset, DatasetTraits, dataset_traits, load_dataset
from core.data import shapes as S
from core.data.nyuv2 import surface_normals

from . import fixtures as fx

# --------------------------------------------------------------------------- one normal frame
SIDE = 64
CAMERA = (60.0, 60.0, (SIDE - 1) / 2, (SIDE - 1) / 2)  # principal point on the image centre
Z0 = 2.0  # metres from the camera to the flat background


def shapes_formula(height: np.ndarray) -> np.ndarray:
    """``normalize(-∂h/∂x, -∂h/∂y, 1)`` of a height field ``[H, W]`` (pixels; x right, y down) → ``[3, H, W]``,
    the formula the shapes module documents for its normals."""
    gy, gx = np.gradient(height)  # ∂h/∂row, ∂h/∂column
    n = np.stack([-gx, -gy, np.ones_like(height)])
    return n / np.linalg.norm(n, axis=0)


def depth_of_height(height: np.ndarray) -> np.ndarray:
    """Depth ``[H, W]`` (metres) of a relief ``height`` (pixels, toward the camera) in front of a wall at Z0."""
    return Z0 - height * Z0 / CAMERA[0]  # one pixel of height = one pixel's width at the wall


@pytest.mark.parametrize("axis", [0, 1])
def test_tilted_plane_has_the_same_normal_in_nyuv2_and_in_the_shapes_formula(axis):
    """A plane whose top rows (axis 0) or left columns (axis 1) are closer to the camera: like a
    ceiling (facing down, n_y > 0) or a wall on the left (facing right, n_x > 0)."""
    ramp = np.broadcast_to(np.linspace(8.0, 0.0, SIDE), (SIDE, SIDE))  # high (close) at the start of the row/column
    height = np.ascontiguousarray(ramp.T if axis == 0 else ramp)  # [H, W] pixels toward the viewer
    expected = shapes_formula(height)  # [3, H, W]
    normals, valid = surface_normals(depth_of_height(height), CAMERA)
    assert valid.all()
    component = 1 - axis  # n_y for a top-bottom tilt, n_x for a left-right one
    assert (expected[component] > 0.05).all() and (normals[component] > 0.05).all()
    assert (np.abs(normals[axis]) < 0.05).all() and (normals[2] > 0).all()
    # perspective bends the normals of a plane only slightly when it is this close to fronto-parallel
    np.testing.assert_allclose(normals[:, 16:48, 16:48], expected[:, 16:48, 16:48], atol=0.05)


def test_rendered_shape_and_its_relief_seen_as_depth_agree_on_every_normal_sign():
    """The shapes renderer's own normals of a disc, and nyuv2's normals of the same relief as a depth map."""
    sc = S.sample_scenes("train", 1, seed=0)
    sc = dataclasses.replace(sc, shape=np.array([0]), texture=np.array([0]), size=np.array([0.7]),
                             x=np.array([0.5]), y=np.array([0.5]))
    rendered = S.decode_normals(S.render_scenes(sc, SIDE).normals[0])  # [3, 64, 64], the circle template
    half = 0.7 / 2 * SIDE  # object half-size in pixels (1 shape unit)
    radius, bevel = 0.95 * half, 0.2 * half  # circle silhouette and bevel width W, shapes units → pixels
    rows, cols = np.mgrid[0:SIDE, 0:SIDE] + 0.5  # pixel centres
    d = radius - np.hypot(rows - SIDE / 2, cols - SIDE / 2)  # distance inside the edge, pixels
    dd = np.clip(d, 0, bevel)
    height = 1.3 * (dd - dd**2 / (2 * bevel))  # h'(d) = A·max(0, 1 - d/W), A = 1.3
    normals, valid = surface_normals(depth_of_height(height), CAMERA)
    for c, name in ((0, "n_x"), (1, "n_y")):
        tilted = (np.abs(rendered[c]) > 0.3) & valid  # bevel pixels leaning clearly along this axis
        agree = np.sign(rendered[c][tilted]) == np.sign(normals[c][tilted])
        assert tilted.sum() > 50 and agree.mean() > 0.97, (name, int(tilted.sum()), agree.mean())
    top = (np.abs(rendered[1]) > 0.3) & (rows < SIDE / 2)
    assert (rendered[1][top] < 0).all() and (normals[1][top & valid] < 0).all()  # the top edge faces up: n_y < 0


# --------------------------------------------------------------------------- the size option
def _mnist(tmp_path):
    x, y = fx.digits(12, seed=1)
    fx.write_mnist(tmp_path, "train", x, y)
    return dict(name="mnist", root=str(tmp_path), resolution=16)


def _cifar(tmp_path):
    fx.write_cifar(tmp_path)
    return dict(name="cifar10", root=str(tmp_path), resolution=16)


def _svhn(tmp_path):
    fx.write_svhn(tmp_path, "train", [1, 2, 3, 10, 5])
    return dict(name="svhn", root=str(tmp_path), resolution=16)


def _cub(tmp_path):
    fx.write_cub(tmp_path)
    return dict(name="cub", root=str(tmp_path), resolution=16)


def _oxford(tmp_path):
    fx.write_oxford(tmp_path)
    return dict(name="oxford102", root=str(tmp_path), resolution=16)


def _nyuv2(tmp_path):
    depth = fx.tilted_plane_depth(24, 32, (0.3, -0.4, -1.0), -2.0, (30.0, 31.0, 15.5, 11.5))
    rgb = np.arange(4, dtype=np.uint8)[:, None, None, None] * np.full((4, 24, 32, 3), 50, np.uint8)
    fx.write_nyuv2(tmp_path / "nyu_depth_v2_labeled.mat", rgb, np.stack([depth] * 4),
                   ["kitchen", "office", "bedroom", "office"])
    from scipy.io import savemat

    savemat(tmp_path / "splits.mat", {"trainNdxs": np.array([[1], [2], [3]]), "testNdxs": np.array([[4]])})
    return dict(name="nyuv2", root=str(tmp_path), resolution=8)


FIXTURES = [_mnist, _cifar, _svhn, _cub, _oxford, _nyuv2]


@pytest.mark.parametrize("write", FIXTURES, ids=lambda f: f.__name__[1:])
def test_size_keeps_a_seeded_subset_with_the_dataset_interface(tmp_path, write):
    spec = write(tmp_path)
    name, kw = spec.pop("name"), spec
    full = load_dataset(name, "train", seed=3, **kw)
    k = 2 if len(full) > 2 else 1
    part = load_dataset(name, "train", seed=3, size=k, **kw)
    assert len(full) > k and len(part) == k and isinstance(part, DatasetSubset)
    idx = part.indices.tolist()
    assert idx == np.random.default_rng(3).permutation(len(full))[:k].tolist()  # load_real's choice of items
    assert load_dataset(name, "train", seed=3, size=k, **kw).indices.tolist() == idx  # deterministic
    for i, j in enumerate(idx):
        a, b = part[i], full[j]
        assert torch.equal(a["image"], b["image"]) and a["label"] == b["label"]
        assert a.get("caption") == b.get("caption")
    assert torch.equal(part[-1]["image"], full[idx[-1]]["image"])  # negative indices count from the subset's end
    with pytest.raises(IndexError):
        part[k]
    assert list(part.labels) == [full.labels[j] for j in idx] == [full[j]["label"] for j in idx]
    assert part.class_names == full.class_names
    if hasattr(full, "all_captions"):
        assert part.all_captions() == [full.all_captions()[j] for j in idx]
    else:  # nyuv2 has no captions: the view must not pretend it has (hasattr is how callers ask)
        assert not hasattr(part, "all_captions")
    if name in ("cub", "oxford102"):
        assert part.embeddings.shape == (k, *full.embeddings.shape[1:])
        np.testing.assert_array_equal(part.embeddings, full.embeddings[idx])
    part.set_epoch(4)  # forwarded: the underlying dataset draws the new epoch's choices
    assert full.epoch == 0 and part.dataset.epoch == 4 and part.epoch == 4
    again = pickle.loads(pickle.dumps(part))  # DataLoader workers receive the view pickled
    assert len(again) == k and torch.equal(again[0]["image"], part[0]["image"])
    whole = load_dataset(name, "train", seed=3, size=len(full) + 5, **kw)
    assert len(whole) == len(full)  # more than there is: all of it
    for bad in (0, -1, 1.5, True):
        with pytest.raises(DatasetError, match=f"{name}: size must be a positive integer"):
            load_dataset(name, "train", size=bad, **kw)


def test_size_mixes_the_classes_of_a_class_sorted_dataset_and_matches_load_real():
    from core.metrics.data import load_real

    full = load_dataset("mnist5k", "train", resolution=16)
    assert (np.asarray(full.labels[:350]) == 0).all()  # stored sorted by class: a prefix would be all zeros
    small = load_dataset("mnist5k", "train", resolution=16, size=64)
    assert len(small) == 64 and len(np.unique(small.labels)) >= 8
    assert load_dataset("mnist5k", "train", resolution=16, size=32).indices.tolist() == small.indices[:32].tolist()
    real = load_real("mnist5k", "test", 16, n=30, seed=2)
    view = load_dataset("mnist5k", "test", resolution=16, seed=2, size=30)
    assert real.labels.tolist() == list(view.labels)  # the items metrics score, in the same order
    assert real.captions == [view[i]["caption"] for i in range(30)]


def test_shapes_keeps_its_native_size():
    ds = load_dataset("shapes", "test", resolution=16, size=20)
    assert len(ds) == 20 and isinstance(ds, S.ShapesDataset)  # rendered 20, not a view of 2,000
    assert len(load_dataset("shapes", "test_unseen", resolution=16, size=20)) == 2  # every tenth test item


def test_nyuv2_labels_are_the_splits_own(tmp_path):
    spec = _nyuv2(tmp_path)
    train = load_dataset("nyuv2", "train", resolution=8, root=spec["root"])
    test = load_dataset("nyuv2", "test", resolution=8, root=spec["root"])
    assert len(train.labels) == 3 and len(test.labels) == 1  # one per item, not one per frame of the file
    assert list(train.labels) == [train[i]["label"] for i in range(3)] == [1, 2, 0]
    assert list(test.labels) == [test[0]["label"]] == [2] and test.class_names[2] == "office"


# --------------------------------------------------------------------------- CUB without text_c10
def test_captionless_cub_serves_its_embeddings_and_says_it_has_no_text(tmp_path):
    from core.metrics.data import load_real
    from core.metrics.domain import stated_mask

    info = fx.write_cub(tmp_path, n_captions=3, captions=False)
    assert not (tmp_path / "text_c10").exists()
    ds = load_dataset("cub", "train", resolution=16, root=str(tmp_path), seed=1)
    assert ds.all_captions() is None
    item = ds[1]
    assert "caption" not in item and "captions" not in item
    assert 0 <= item["attributes"]["caption_index"] < 3
    assert torch.equal(item["embeddings"], torch.from_numpy(info["embeddings"]["train"][1]))
    assert load_dataset("cub", "train", resolution=16, root=str(tmp_path), size=1).all_captions() is None
    real = load_real("cub", "test", 16, root=str(tmp_path))
    assert real.captions == [None, None] and real.labels.tolist() == [2, 3] and len(real.class_names) == 4
    assert stated_mask(real.captions, ["class"], "cub")["class"].all()  # class-captioned: the label is the condition


def test_oxford102_without_class_names_loads_for_metrics(tmp_path):
    from core.metrics.data import load_real

    fx.write_oxford(tmp_path)
    real = load_real("oxford102", "train", 16, root=str(tmp_path))
    assert real.class_names == [] and real.labels.tolist() == [0, 76] and real.captions[0].startswith("flower")


# --------------------------------------------------------------------------- dataset traits
def test_traits_declare_what_metrics_used_to_branch_on():
    shapes = dataset_traits("shapes")
    assert shapes.shuffled and shapes.always_stated == ("shape", "color") and shapes.classifier_resolution == 64
    assert shapes.splits == ("train", "test", "test_unseen", "val")
    assert shapes.unresolvable_attributes(16) == {"texture"} and shapes.unresolvable_attributes(32) == set()
    assert shapes.eval_size("test", 300) == 300 and shapes.eval_size("test_unseen", 300) == 3000
    assert shapes.eval_size("test_unseen", 10) == 2000 and shapes.eval_size("test_unseen", 5000) == 20_000
    said = shapes.caption_attributes("a plain red star on a navy background")
    assert said == {"texture": 0, "color": 0, "shape": 3, "background": 3}
    assert shapes.caption_attributes("a photo of a bird") is None
    for name in ("mnist5k", "mnist", "cifar10", "svhn", "cub", "oxford102", "nyuv2"):
        words = dict(class_names=(), class_noun="")  # what a class is called: the words for readers (issue #29)
        assert dataclasses.replace(dataset_traits(name), **words) == DatasetTraits(), name  # no grammar, not
        # pre-shuffled, everything shows


def test_class_names_and_what_a_class_is_live_with_the_traits():
    """Issue #29: one place per dataset says what its classes are called (core.data.class_names, the demo's
    tabs and, through table.json, the Results tab read it there)."""
    from core.data import class_names

    for name, noun, names in (("mnist5k", "digit", tuple("0123456789")), ("svhn", "digit", tuple("0123456789")),
                              ("cifar10", "object class", ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                                           "frog", "horse", "ship", "truck")),
                              ("shapes", "shape", dataset_traits("shapes").class_names)):
        assert dataset_traits(name).class_noun == noun and class_names(name, len(names)) == names, name
    assert len(dataset_traits("shapes").class_names) == 10 and dataset_traits("cub").class_noun == ""
    assert class_names("cub", 3) == ("class 0", "class 1", "class 2") == class_names("nope", 3)
    assert class_names("mnist5k", 4) == ("class 0", "class 1", "class 2", "class 3")  # not the dataset's count
    assert DatasetTraits().unresolvable_attributes(16) == set()
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        dataset_traits("nope")

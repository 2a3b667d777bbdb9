"""The embedded ``shapes`` dataset: determinism, cache, normals, captions, splits, resolution, contract."""
from __future__ import annotations

import dataclasses
import pickle
import re

import numpy as np
import pytest
import torch

from core.data import DatasetError, load_dataset
from core.data import shapes as S
from core.data.shapes.cache import _cache_path
from core.data.shapes.templates import _compute_templates


@pytest.fixture(scope="module")
def test64():
    return load_dataset("shapes", split="test", resolution=64, seed=0, size=200)


def _words(text: str, phrases) -> bool:
    """True if any of ``phrases`` occurs in ``text`` as whole words."""
    return any(re.search(rf"\b{re.escape(p)}\b", text) for p in phrases)


# ------------------------------------------------------------------------------ determinism, cache
def test_two_independent_renders_are_bit_identical(tmp_path, monkeypatch):
    a = load_dataset("shapes", split="train", resolution=32, seed=3, size=40, cache=False)
    monkeypatch.setenv("STACKGAN_CACHE", str(tmp_path))  # second render: its own, empty cache dir
    b = load_dataset("shapes", split="train", resolution=32, seed=3, size=40)
    assert (tmp_path / "shapes").is_dir()
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert torch.equal(x["image"], y["image"])
        assert torch.equal(x["normals"], y["normals"])
        assert torch.equal(x["mask"], y["mask"])
        assert x["captions"] == y["captions"] and x["caption"] == y["caption"]
        assert x["attributes"] == y["attributes"]


def test_silhouette_templates_are_reproducible():
    assert np.array_equal(_compute_templates(), S.signed_distance_templates())


def test_different_seeds_give_different_scenes():
    a = S.sample_scenes("train", 50, seed=0)
    b = S.sample_scenes("train", 50, seed=1)
    assert not np.array_equal(a.shape, b.shape) or not np.array_equal(a.size, b.size)


def test_render_does_not_depend_on_batching():
    scenes = S.sample_scenes("test", 12, seed=5)
    one = S.render_scenes(scenes, 32, batch=1)
    many = S.render_scenes(scenes, 32, batch=7)
    assert np.array_equal(one.images, many.images) and np.array_equal(one.normals, many.normals)


def test_cache_hit_returns_the_fresh_render():
    fresh = S.render_scenes(S.sample_scenes("train", 30, seed=7), 32)
    first = load_dataset("shapes", split="train", resolution=32, seed=7, size=30)  # writes the cache
    path = _cache_path("train", 32, 30, 7)
    assert (path / "images.npy").exists()
    hit = load_dataset("shapes", split="train", resolution=32, seed=7, size=30)  # reads it
    assert isinstance(hit._rendered.images, np.memmap)
    for r in (first._rendered, hit._rendered):
        assert np.array_equal(r.images, fresh.images)
        assert np.array_equal(r.normals, fresh.normals)
        assert np.array_equal(r.mask, fresh.mask)


def test_smaller_set_is_a_prefix_of_a_larger_one():
    small = S.sample_scenes("train", 100, seed=2)
    large = S.sample_scenes("train", 1500, seed=2)  # spans two sampling blocks
    assert np.array_equal(small.size, large.size[:100]) and np.array_equal(small.shape, large.shape[:100])
    caps_small, choice_small = S.make_captions(small, "train", 2)
    caps_large, choice_large = S.make_captions(large, "train", 2)
    assert caps_small == caps_large[:100] and np.array_equal(choice_small, choice_large[:100])


# --------------------------------------------------------------------------------------- contract
def test_item_contract(test64):
    assert len(test64) == 200
    for i in (0, 1, 9, 199):
        item = test64[i]
        img, nrm, mask = item["image"], item["normals"], item["mask"]
        assert img.dtype == torch.float32 and img.shape == (3, 64, 64)
        assert img.min() >= -1 and img.max() <= 1 and img.std() > 0.05
        assert nrm.dtype == torch.float32 and nrm.shape == (3, 64, 64)
        assert mask.dtype == torch.float32 and mask.shape == (1, 64, 64)
        assert set(mask.unique().tolist()) == {0.0, 1.0}
        attrs = item["attributes"]
        assert item["label"] == test64.class_names.index(attrs["shape"])
        assert isinstance(item["label"], int)
        assert len(item["captions"]) >= 5 and len(set(item["captions"])) == len(item["captions"])
        assert item["caption"] in item["captions"]
        for k, v in attrs.items():
            assert type(v) in (str, float, int, bool), (k, type(v))
        for name, values in test64.attribute_values.items():
            assert attrs[name] in values
        ids = test64.attribute_labels(i)
        assert [ids[k] for k in test64.ATTRIBUTES] == test64.attribute_ids[i].tolist()
        assert {k: test64.attribute_values[k][v] for k, v in ids.items()} == {k: attrs[k] for k in ids}
    assert len(test64.class_names) >= 10 and len(set(test64.class_names)) == len(test64.class_names)
    assert {"shape", "color", "texture", "size_bin"} <= set(test64.attribute_values)
    assert len(test64.attribute_values["color"]) >= 8
    assert test64.attribute_ids.shape == (200, len(test64.ATTRIBUTES))
    assert test64.all_captions()[3] == test64[3]["captions"]


def test_pickling_ships_the_cache_key_not_the_arrays(test64):
    blob = pickle.dumps(test64)
    assert len(blob) < 1_000_000  # the 200 × 64² renders alone are 4 MB
    clone = pickle.loads(blob)
    assert torch.equal(clone[5]["image"], test64[5]["image"]) and clone[5]["captions"] == test64[5]["captions"]


def test_caption_choice_is_deterministic_and_varied(test64):
    again = load_dataset("shapes", split="test", resolution=64, seed=0, size=200)
    assert [again[i]["caption"] for i in range(20)] == [test64[i]["caption"] for i in range(20)]
    chosen = {item["captions"].index(item["caption"]) for item in (test64[i] for i in range(50))}
    assert len(chosen) > 2  # not always the same template slot


def test_normals_are_unit_and_background_is_flat(test64):
    for i in range(0, 200, 25):
        item = test64[i]
        n, mask = item["normals"], item["mask"][0]
        torch.testing.assert_close(n.norm(dim=0), torch.ones(64, 64), atol=1e-5, rtol=0)
        # pixels whose 3×3 neighbourhood holds no object at all are exactly (0, 0, 1)
        near = torch.nn.functional.max_pool2d(mask[None, None], 3, stride=1, padding=1)[0, 0]
        bg = near == 0
        assert bg.sum() > 500
        assert torch.equal(n[:, bg], torch.tensor([0.0, 0.0, 1.0])[:, None].expand(3, int(bg.sum())))
        # the bevel tilts normals on the object
        assert (n[2][mask > 0] < 0.9).sum() > 20


def test_shading_follows_the_light():
    """A surface facing the light is brighter than one facing away (Lambertian shading)."""
    sc = S.sample_scenes("train", 1, seed=0)
    sc = dataclasses.replace(sc, shape=np.array([0]), texture=np.array([0]), light_elevation=np.array([45.0]),
                             x=np.array([0.5]), y=np.array([0.5]))
    right = S.render_scenes(dataclasses.replace(sc, light_azimuth=np.array([0.0])), 64)
    left = S.render_scenes(dataclasses.replace(sc, light_azimuth=np.array([180.0])), 64)
    lum_r = right.images[0].astype(float).sum(-1)
    lum_l = left.images[0].astype(float).sum(-1)
    row = 32
    edge_right = right.mask[0, row].nonzero()[0].max() - 1  # just inside the right edge of the disc
    assert lum_r[row, edge_right] > lum_l[row, edge_right] + 30
    assert lum_l[row, 64 - 1 - edge_right] > lum_r[row, 64 - 1 - edge_right] + 30


# ------------------------------------------------------------------------------------------ captions
def test_captions_are_consistent_with_attributes():
    scenes = S.sample_scenes("test", 400, seed=11)
    captions, _ = S.make_captions(scenes, "test", 11)
    forbidden = ("light", "lit", "shadow", "left", "top", "bottom", "corner", "center", "centre", "azimuth")
    for i in range(len(scenes)):
        a = scenes.attributes(i)
        assert len(captions[i]) >= 5
        for c in captions[i]:
            assert _words(c, S.SHAPE_WORDS[a["shape"]]), (c, a)
            assert _words(c, S.COLOR_WORDS[a["color"]]), (c, a)
            for other, words in S.COLOR_WORDS.items():
                if other != a["color"]:
                    assert not _words(c, words), (c, a)
            for other, words in S.SHAPE_WORDS.items():
                if other != a["shape"]:
                    assert not _words(c, words), (c, a)
            for other, words in S.BACKGROUND_WORDS.items():
                if other != a["background"]:
                    assert not _words(c, words), (c, a)
            for table, key in ((S.TEXTURE_ADJ, "texture"), (S.TEXTURE_WITH, "texture"), (S.SIZE_WORDS, "size_bin")):
                for other, words in table.items():
                    if other != a[key]:
                        assert not _words(c, words), (c, a)
            assert not _words(c, forbidden), c
            assert not re.search(r"\ba [aeiou]", c), c  # "an" before a vowel


def test_captions_leave_some_attributes_unsaid():
    """As in CUB, one caption fits many images: size and background are often not mentioned."""
    scenes = S.sample_scenes("train", 300, seed=0)
    captions, _ = S.make_captions(scenes, "train", 0)
    flat = [(c, scenes.attributes(i)) for i, cs in enumerate(captions) for c in cs]
    no_size = sum(not _words(c, S.SIZE_WORDS[a["size_bin"]]) for c, a in flat)
    no_bg = sum(not _words(c, S.BACKGROUND_WORDS[a["background"]]) for c, a in flat)
    assert 0.2 < no_size / len(flat) < 0.8 and 0.2 < no_bg / len(flat) < 0.8
    assert len({c for c, _ in flat}) > 0.9 * len(flat)  # varied wording


# ----------------------------------------------------------------------------------------- splits
def test_held_out_pairs_absent_from_train_present_in_test():
    held = set(S.HELD_OUT)
    train = S.sample_scenes("train", 10_000, seed=0)
    pairs = {(S.SHAPES[s], list(S.COLORS)[c]) for s, c in zip(train.shape, train.color)}
    assert not pairs & held
    assert len(pairs) == len(S.SHAPES) * len(S.COLORS) - len(held)  # every other pair does occur
    assert not train.held_out.any()
    test = S.sample_scenes("test", 2000, seed=0)
    test_pairs = [(S.SHAPES[s], list(S.COLORS)[c]) for s, c in zip(test.shape, test.color)]
    assert all((p in held) == h for p, h in zip(test_pairs, test.held_out))
    assert {p for p, h in zip(test_pairs, test.held_out) if h} == held
    assert test.held_out.sum() == 200


def test_test_unseen_is_the_held_out_part_of_test(test64):
    unseen = load_dataset("shapes", split="test_unseen", resolution=64, seed=0, size=200)
    assert len(unseen) == 20
    index = [i for i in range(len(test64)) if test64[i]["attributes"]["held_out"]]
    assert len(index) == 20
    for k, i in enumerate(index[:5]):
        u, t = unseen[k], test64[i]
        assert u["attributes"]["held_out"] and u["attributes"] == t["attributes"]
        assert torch.equal(u["image"], t["image"]) and u["captions"] == t["captions"]
    assert np.array_equal(unseen.attribute_ids, test64.attribute_ids[index])


def test_train_and_test_are_different_scenes():
    a = S.sample_scenes("train", 100, seed=0)
    b = S.sample_scenes("test", 100, seed=0)
    assert not np.isin(a.size, b.size).any()


# ------------------------------------------------------------------------ resolution and textures
def test_rendering_at_128_and_downsampling_matches_rendering_at_32():
    scenes = S.sample_scenes("train", 48, seed=4)
    r32 = S.render_scenes(scenes, 32)
    r128 = S.render_scenes(scenes, 128)
    small = r32.images.astype(np.float64) / 255
    big = r128.images.astype(np.float64).reshape(48, 32, 4, 32, 4, 3).mean(axis=(2, 4)) / 255
    diff = np.abs(small - big)
    assert diff.mean() < 0.01 and np.quantile(diff, 0.99) < 0.15
    n32 = r32.normals.astype(np.float64) / 127
    n128 = r128.normals.astype(np.float64).reshape(48, 2, 32, 4, 32, 4).mean(axis=(3, 5)) / 127
    assert np.abs(n32 - n128).mean() < 0.01


@pytest.mark.parametrize("resolution", [16, 17, 100, 256])
def test_any_resolution_renders(resolution):
    r = S.render_scenes(S.sample_scenes("train", 2, seed=0), resolution)
    assert r.images.shape == (2, resolution, resolution, 3) and r.mask.any(axis=(1, 2)).all()


def test_texture_fades_at_16_and_is_legible_at_64():
    scenes = S.sample_scenes("train", 32, seed=9)
    for tid in (1, 2, 3):
        plain = dataclasses.replace(scenes, texture=np.zeros(32, dtype=np.int64))
        textured = dataclasses.replace(scenes, texture=np.full(32, tid))
        assert np.array_equal(S.render_scenes(plain, 16).images, S.render_scenes(textured, 16).images)
        p64, t64 = S.render_scenes(plain, 64), S.render_scenes(textured, 64)
        diff = np.abs(p64.images.astype(float) - t64.images.astype(float)).mean(-1)[p64.mask.astype(bool)]
        assert diff.mean() > 15, S.TEXTURES[tid]  # on a 0..255 scale


def test_objects_are_large_and_inside_the_canvas(test64):
    """Difficulty calibration: objects span roughly 45–75 % of the side and never touch the border."""
    for i in range(0, 200, 10):
        m = test64[i]["mask"][0].numpy()
        rows, cols = np.nonzero(m.any(1))[0], np.nonzero(m.any(0))[0]
        extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        assert 0.38 * 64 <= extent <= 0.76 * 64
        assert not m[0].any() and not m[-1].any() and not m[:, 0].any() and not m[:, -1].any()


def test_silhouettes_are_distinct():
    masks = S.signed_distance_templates() > 0  # [n_shapes, T, T]
    for a in range(len(S.SHAPES)):
        for b in range(a + 1, len(S.SHAPES)):
            iou = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
            assert iou < 0.8, (S.SHAPES[a], S.SHAPES[b], iou)


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("resolution", [8, 15, 257, 64.0, "64", True])
def test_bad_resolution_is_a_clear_error(resolution):
    with pytest.raises(DatasetError, match="resolution must be an integer from 16 to 256"):
        load_dataset("shapes", resolution=resolution, size=4)


def test_bad_options_are_clear_errors():
    with pytest.raises(DatasetError, match=r"unknown option\(s\) \['colour'\]"):
        load_dataset("shapes", size=4, colour="red")
    with pytest.raises(DatasetError, match="unknown split 'valid'"):
        load_dataset("shapes", split="valid", size=4)
    with pytest.raises(DatasetError, match="size must be a positive integer"):
        load_dataset("shapes", size=0)
    with pytest.raises(DatasetError, match="seed must be a non-negative integer"):
        load_dataset("shapes", size=4, seed=-1)
    with pytest.raises(DatasetError, match="test_unseen is empty"):
        load_dataset("shapes", split="test_unseen", size=5)


def test_defaults():
    assert S.DEFAULT_SIZE["train"] == 10_000 and S.DEFAULT_SIZE["test"] == 2_000


# --------------------------------------------------------------------------------------- benchmark
@pytest.mark.slow
def test_bench_render_10k_at_64(benchmark):
    """10,000 images at 64×64, cache bypassed (target ≤ 20 s on 2 CPU cores)."""
    S.signed_distance_templates()  # computed once per process; not part of the measurement
    ds = benchmark.pedantic(
        lambda: load_dataset("shapes", split="train", resolution=64, seed=0, size=10_000, cache=False),
        rounds=3, iterations=1,
    )
    assert len(ds) == 10_000


def test_val_split_is_disjoint_from_train_and_test_and_drawn_like_test():
    """`val` (PROTOCOL.md §3: presets are chosen on it, never on `test`) has its own scenes."""
    from core.data.shapes import sample_scenes

    train, test, val = (sample_scenes(s, 500, 0) for s in ("train", "test", "val"))
    key = lambda sc: {(round(float(x), 9), round(float(y), 9)) for x, y in zip(sc.x, sc.y)}  # noqa: E731
    assert not key(val) & key(train) and not key(val) & key(test)
    assert val.held_out.tolist() == test.held_out.tolist()  # every tenth item a zero-shot pair, as in test
    assert (sample_scenes("val", 200, 0).x == val.x[:200]).all()  # a smaller set is a prefix
    ds = load_dataset("shapes", "val", resolution=16, size=20)
    assert len(ds) == 20 and ds[3]["image"].shape == (3, 16, 16)

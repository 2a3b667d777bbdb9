"""Writers of tiny datasets in each published format, for the loader tests.

Every writer produces files byte-compatible with the originals' layout (idx, Python-2-style
pickles, MATLAB v5 / v7.3) so that the loaders are tested on the format, not on a mock.
"""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def digits(n: int, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random uint8 grey images ``[n, size, size]`` and labels ``[n]`` cycling 0..9."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 10


# --------------------------------------------------------------------------- MNIST idx
def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file: 2 zero bytes, dtype 0x08 (uint8), ndim, big-endian uint32 dims, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_mnist(root: Path, split: str, images: np.ndarray, labels: np.ndarray, gz: bool = True) -> list[Path]:
    """Write ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` under ``root``."""
    prefix = "train" if split == "train" else "t10k"
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        path = root / f"{prefix}-{kind}-ubyte{'.gz' if gz else ''}"
        data = idx_bytes(array)
        path.write_bytes(gzip.compress(data) if gz else data)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- CIFAR-10 pickles
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_image(label: int) -> np.ndarray:
    """A flat 32×32 image whose red value is ``20·label`` and green 200 (uint8 [32, 32, 3])."""
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 0], img[..., 1] = 20 * label, 200
    return img


def write_cifar(root: Path, per_batch: int = 4) -> Path:
    """Write ``cifar-10-batches-py`` (5 train batches, test batch, meta) as protocol-2 pickles with bytes keys.

    Image ``k`` of a batch has label ``k % 10`` and pixels :func:`cifar_image` (row-major R, G, B planes).
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def dump(name: str, obj) -> None:
        with open(folder / name, "wb") as f:
            pickle.dump(obj, f, protocol=2)

    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [k % 10 for k in range(per_batch)]
        data = np.stack([cifar_image(y).transpose(2, 0, 1).reshape(-1) for y in labels])  # [N, 3072]
        dump(name, {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": [b"x.png"] * per_batch})
    dump("batches.meta", {b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_vis": 3072, b"num_cases_per_batch": per_batch})
    return folder


# --------------------------------------------------------------------------- SVHN .mat
def write_svhn(root: Path, split: str, labels: list[int]) -> Path:
    """Write ``<split>_32x32.mat`` (MATLAB v5): X [32, 32, 3, N] uint8 with blue = 20·label, y [N, 1]."""
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    X = np.zeros((32, 32, 3, len(labels)), np.uint8)
    for i, y in enumerate(labels):
        X[..., 2, i] = 20 * (y % 10)
    path = root / f"{split}_32x32.mat"
    savemat(path, {"X": X, "y": np.asarray(labels, np.uint8).reshape(-1, 1)})
    return path


# --------------------------------------------------------------------------- StackGAN release
BOX_COLOUR = (255, 0, 0)
BACKGROUND = (0, 0, 255)


def _dump_release(split_dir: Path, keys: list[str], class_ids: list[int], n_captions: int, dim: int) -> np.ndarray:
    """filenames / char-CNN-RNN-embeddings / class_info pickles; embedding [i, j, :] = i + j / 100."""
    split_dir.mkdir(parents=True)
    rows = np.arange(len(keys), dtype=np.float32)[:, None, None] + np.arange(n_captions, dtype=np.float32)[:, None] / 100
    emb = np.ascontiguousarray(np.broadcast_to(rows, (len(keys), n_captions, dim)))  # [N, K, D]
    for name, obj in (("filenames", keys), ("char-CNN-RNN-embeddings", emb), ("class_info", class_ids)):
        with open(split_dir / f"{name}.pickle", "wb") as f:
            pickle.dump(obj, f, protocol=2)
    return emb


def write_cub(root: Path, n_captions: int = 3, dim: int = 1024, captions: bool = True) -> dict:
    """A 4-image CUB in StackGAN's ``Data/birds`` layout (2 train, 2 test images, 2 classes each split).

    Each image is 120×80 blue with a red bounding box, so the bird crop is mostly red.

    Returns:
        ``{"train": keys, "test": keys, "boxes": {key: (x, y, w, h)}, "embeddings": {split: [N, K, D]}}``.
    """
    cub = root / "CUB_200_2011"
    specs = [  # key, class id, box (x, y, w, h)
        ("001.Black_footed_Albatross/Black_Footed_Albatross_0001_1", 1, (41, 21, 21, 21)),
        ("002.Laysan_Albatross/Laysan_Albatross_0002_2", 2, (0, 0, 30, 24)),
        ("003.Sooty_Albatross/Sooty_Albatross_0003_3", 3, (90, 50, 30, 30)),
        ("004.Groove_billed_Ani/Groove_Billed_Ani_0004_4", 4, (10, 10, 100, 60)),
    ]
    lines_img, lines_box = [], []
    for i, (key, _, (x, y, w, h)) in enumerate(specs, start=1):
        img = np.zeros((80, 120, 3), np.uint8)
        img[:] = BACKGROUND
        img[y : y + h, x : x + w] = BOX_COLOUR
        (cub / "images" / key).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(cub / "images" / f"{key}.jpg", quality=100, subsampling=0)
        lines_img.append(f"{i} {key}.jpg")
        lines_box.append(f"{i} {float(x)} {float(y)} {float(w)} {float(h)}")
        if captions:
            (root / "text_c10" / key).parent.mkdir(parents=True, exist_ok=True)
            (root / "text_c10" / f"{key}.txt").write_text("".join(f"bird {i} caption {j}\n" for j in range(n_captions)))
    (cub / "images.txt").write_text("\n".join(lines_img) + "\n")
    (cub / "bounding_boxes.txt").write_text("\n".join(lines_box) + "\n")
    (cub / "classes.txt").write_text("".join(f"{c} {k.split('/')[0]}\n" for k, c, _ in specs))
    out = {"boxes": {k: b for k, _, b in specs}, "embeddings": {}}
    for split, part in (("train", specs[:2]), ("test", specs[2:])):
        out[split] = [k for k, _, _ in part]
        out["embeddings"][split] = _dump_release(root / split, out[split], [c for _, c, _ in part], n_captions, dim)
    return out


def write_oxford(root: Path, n_captions: int = 2, dim: int = 1024, image_dir: str = "jpg") -> dict:
    """A 3-image Oxford-102 in StackGAN's ``Data/flowers`` layout (keys ``jpg/image_NNNNN``).

    Image ``image_0000i`` is a flat 50×40 image of grey level ``60·i``.
    """
    specs = [("image_00001", 1), ("image_00002", 77), ("image_00003", 102)]
    (root / image_dir).mkdir(parents=True)
    for i, (stem, cls) in enumerate(specs, start=1):
        Image.fromarray(np.full((40, 50, 3), 60 * i, np.uint8)).save(root / image_dir / f"{stem}.jpg")
        cap_dir = root / "text_c10" / f"class_{cls:05d}"
        cap_dir.mkdir(parents=True, exist_ok=True)
        (cap_dir / f"{stem}.txt").write_text("".join(f"flower {stem} caption {j}\n" for j in range(n_captions)))
    keys = [f"jpg/{s}" for s, _ in specs]
    _dump_release(root / "train", keys[:2], [c for _, c in specs[:2]], n_captions, dim)
    _dump_release(root / "test", keys[2:], [c for _, c in specs[2:]], n_captions, dim)
    return {"train": keys[:2], "test": keys[2:]}


# --------------------------------------------------------------------------- NYUv2 (v7.3 = HDF5)
def write_nyuv2(path: Path, rgb: np.ndarray, depth: np.ndarray, scenes: list[str] | None = None) -> Path:
    """Write ``nyu_depth_v2_labeled.mat`` as MATLAB v7.3 stores it (column-major, so h5py sees W before H).

    Args:
        rgb: uint8 ``[N, H, W, 3]``.
        depth: float ``[N, H, W]`` metres.
        scenes: one scene type per frame, stored as a cell array of uint16 char arrays.
    """
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("images", data=rgb.transpose(0, 3, 2, 1))  # [N, 3, W, H]
        f.create_dataset("depths", data=depth.astype(np.float32).transpose(0, 2, 1))  # [N, W, H]
        f.create_dataset("labels", data=np.zeros(depth.shape, np.uint16).transpose(0, 2, 1))  # [N, W, H]
        if scenes is not None:
            refs = f.create_dataset("sceneTypes", (1, len(scenes)), dtype=h5py.ref_dtype)
            for i, name in enumerate(scenes):
                chars = f.create_dataset(f"#refs#/s{i}", data=np.array([[ord(c) for c in name]], np.uint16).T)
                refs[0, i] = chars.ref
    with open(path, "r+b") as f:  # MATLAB's 512-byte text header in the user block
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by the stacked-gans tests".ljust(116))
    return path


def tilted_plane_depth(height: int, width: int, normal, distance: float, intrinsics) -> np.ndarray:
    """Depth ``[H, W]`` of the plane ``n · p = d`` (OpenCV camera frame) seen through ``intrinsics``."""
    fx, fy, cx, cy = intrinsics
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], axis=-1)  # [H, W, 3] with z = 1
    return distance / (rays @ np.asarray(normal, np.float64))  # z where the ray meets the plane

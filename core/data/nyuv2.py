"""NYU Depth V2, labelled subset (1,449 RGB-D frames), with surface normals computed from depth.

S²-GAN (Wang & Gupta 2016) trains on NYUv2 normals: RGB and normals both in [-1, 1], normals unit
length per pixel. This loader reads ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3, i.e. HDF5), back-projects
each depth map with the Kinect RGB intrinsics of the NYU toolbox, takes the cross product of the
point cloud's image-space gradients and orients it toward the camera.

Normals are in the frame every dataset shares (:mod:`core.data.base`): x right, y down the image
rows, z toward the viewer. That is the OpenCV camera frame with z flipped, so a surface facing the
camera has ``n_z > 0``, a ceiling (facing down) ``n_y > 0``, a floor ``n_y < 0``, and
``(n + 1) / 2`` reads as a normal map; ``shapes`` renders its normals in the same frame. Pixels
without valid depth have ``mask = 0`` and normal ``(0, 0, 1)``.

Items: ``image`` [3, R, R], ``normals`` [3, R, R], ``mask`` [1, R, R], ``label`` (scene type id, 0
when the file has no ``sceneTypes``), ``attributes`` (``index`` in the file, ``scene``). Frames are
centre-cropped to a square before resizing.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import register
from .base import resize_uint8, to_image_tensor
from .common import Published, SeededItems, check_request

NYUV2 = Published(
    "nyuv2",
    layout=(
        "<root>/nyu_depth_v2_labeled.mat (MATLAB v7.3 = HDF5: images [N, 3, W, H] uint8, "
        "depths [N, W, H] metres, as h5py sees them)\n"
        "<root>/splits.mat (optional: trainNdxs, testNdxs, 1-based; else a seeded 795/654 split)"
    ),
    url="https://cs.nyu.edu/~silberman/datasets/nyu_depth_v2.html",
)
FILENAME = "nyu_depth_v2_labeled.mat"
# NYU Depth V2 toolbox, camera_params.m: RGB camera intrinsics at 640 × 480 (fx, fy, cx, cy).
KINECT_INTRINSICS = (518.85790117450188, 519.46961112127485, 325.58244941119034, 253.73616633400465)
KINECT_SIZE = (640, 480)  # (width, height) the intrinsics refer to
TRAIN_FRACTION = 795 / 1449  # the official split: 795 train / 654 test frames


def surface_normals(
    depth: np.ndarray, intrinsics: tuple[float, float, float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Unit surface normals of a depth map, from the cross product of the point cloud's gradients.

    Args:
        depth: ``[H, W]`` metres; ``<= 0`` or non-finite means no measurement.
        intrinsics: ``(fx, fy, cx, cy)`` in pixels for this size; default: the NYU Kinect ones
            scaled from 640 × 480 to ``W × H``.
    Returns:
        ``normals`` float32 ``[3, H, W]`` (x right, y down, z toward the viewer, facing the camera)
        and ``valid`` bool ``[H, W]`` (the pixel and its 4 neighbours have depth).
    """
    h, w = depth.shape
    if intrinsics is None:
        sx, sy = w / KINECT_SIZE[0], h / KINECT_SIZE[1]
        fx, fy, cx, cy = KINECT_INTRINSICS
        intrinsics = (fx * sx, fy * sy, cx * sx, cy * sy)
    fx, fy, cx, cy = intrinsics
    z = np.where(np.isfinite(depth), depth, 0).astype(np.float32)  # [H, W]
    u = (np.arange(w, dtype=np.float32) - cx) / fx  # [W]
    v = (np.arange(h, dtype=np.float32) - cy) / fy  # [H]
    points = (u[None, :] * z, v[:, None] * z, z)  # x, y, z, each [H, W]: the OpenCV camera frame
    d_u = [np.gradient(p, axis=1) for p in points]  # ∂p/∂u, 3 × [H, W]
    d_v = [np.gradient(p, axis=0) for p in points]  # ∂p/∂v, 3 × [H, W]
    n = np.stack(
        [
            d_u[1] * d_v[2] - d_u[2] * d_v[1],
            d_u[2] * d_v[0] - d_u[0] * d_v[2],
            d_u[0] * d_v[1] - d_u[1] * d_v[0],
        ]
    )  # [3, H, W] = ∂p/∂u × ∂p/∂v
    away = (n[0] * points[0] + n[1] * points[1] + n[2] * points[2]) > 0
    n *= np.where(away, -1.0, 1.0).astype(np.float32)  # toward the camera at the origin
    norm = np.sqrt((n * n).sum(0))  # [H, W]
    has = np.pad(z > 0, 1, mode="edge")
    valid = has[1:-1, 1:-1] & has[:-2, 1:-1] & has[2:, 1:-1] & has[1:-1, :-2] & has[1:-1, 2:] & (norm > 0)
    n /= np.where(valid, norm, 1)
    n[2] *= -1  # OpenCV (x right, y down, z forward) → the datasets' frame (x right, y down, z toward the viewer)
    n[:, ~valid] = np.array([0.0, 0.0, 1.0], dtype=np.float32)[:, None]
    return n, valid


def resize_normals(normals: np.ndarray, valid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-resize unit normals ``[3, H, W]`` and their mask ``[H, W]``, then renormalise.

    Returns:
        normals float32 ``[3, size, size]`` (unit length) and mask float32 ``[size, size]`` in {0, 1}
        (1 where at least half the area had valid depth).
    """

    def area(channel: np.ndarray) -> np.ndarray:
        img = Image.fromarray(np.ascontiguousarray(channel, dtype=np.float32))  # mode "F"
        return np.asarray(img.resize((size, size), resample=Image.BOX))

    m = valid.astype(np.float32)
    if normals.shape[1:] == (size, size):
        n = normals.copy()
    else:
        n = np.stack([area(c * m) for c in normals])  # [3, size, size]
        m = area(m)
    norm = np.linalg.norm(n, axis=0)  # [size, size]
    mask = (m >= 0.5) & (norm > 1e-6)
    n = n / np.where(mask, norm, 1)
    n[:, ~mask] = np.array([0.0, 0.0, 1.0], dtype=np.float32)[:, None]
    return n.astype(np.float32), mask.astype(np.float32)


def centre_square(array: np.ndarray, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Crop the centred square of side ``min(H, W)`` (H, W on ``axes``)."""
    h, w = array.shape[axes[0]], array.shape[axes[1]]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    index = [slice(None)] * array.ndim
    index[axes[0]], index[axes[1]] = slice(top, top + s), slice(left, left + s)
    return array[tuple(index)]


def _read_splits(path: Path, n: int) -> dict[str, np.ndarray]:
    """``splits.mat`` → 0-based ``{"train": ..., "test": ...}`` (MATLAB v5 or v7.3)."""
    with NYUV2.reading(path):
        try:
            from scipy.io import loadmat

            mat = loadmat(path, variable_names=["trainNdxs", "testNdxs"])
        except NotImplementedError:  # v7.3 file: HDF5
            import h5py

            with h5py.File(path, "r") as f:
                mat = {k: f[k][()] for k in ("trainNdxs", "testNdxs") if k in f}
    out = {}
    for split, key in (("train", "trainNdxs"), ("test", "testNdxs")):
        if key not in mat:
            raise NYUV2.error(f"{path} has no {key}")
        idx = np.asarray(mat[key]).reshape(-1).astype(np.int64) - 1
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise NYUV2.error(f"{path}: {key} must be 1-based indices in 1..{n}")
        out[split] = idx
    return out


def _seeded_split(n: int, seed: int) -> dict[str, np.ndarray]:
    perm = np.random.default_rng(seed & 0xFFFFFFFF).permutation(n)
    n_train = int(round(n * TRAIN_FRACTION))
    return {"train": np.sort(perm[:n_train]), "test": np.sort(perm[n_train:])}


def _scene_types(f) -> list[str] | None:
    """The ``sceneTypes`` cell array (HDF5 references to uint16 character arrays), if present."""
    if "sceneTypes" not in f:
        return None
    refs = np.asarray(f["sceneTypes"]).reshape(-1)
    return ["".join(chr(int(c)) for c in np.asarray(f[r]).reshape(-1)) for r in refs]


class NYUv2Frames(SeededItems):
    """Frames of ``nyu_depth_v2_labeled.mat`` (read lazily; the HDF5 file is opened once per process).

    Args:
        path: the ``.mat`` file.
        indices: which frames (0-based) this split holds.
        labels: scene type id of every frame in the file (:attr:`labels` keeps this split's).
        scenes: scene name of every frame in the file (or ``None``).
        resolution: output side length.
        seed: data seed.
        class_names: scene type names.
    """

    def __init__(self, path: Path, indices, labels, scenes, resolution: int, seed: int, class_names):
        self.path, self.indices = path, np.asarray(indices, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)[self.indices]  # [N] scene id of each item
        self.scenes = scenes
        self.resolution, self.seed, self.class_names = resolution, seed, class_names
        self._h5, self._pid = None, None

    def __getstate__(self):
        return {**self.__dict__, "_h5": None, "_pid": None}

    def _file(self):
        if self._h5 is None or self._pid != os.getpid():
            import h5py

            self._h5, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._h5

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        index = self.position(index)
        i = int(self.indices[index])  # frame in the file
        with NYUV2.reading(self.path):
            f = self._file()
            rgb = np.asarray(f["images"][i]).transpose(2, 1, 0)  # [3, W, H] → [H, W, 3]
            depth = np.asarray(f["depths"][i], dtype=np.float32).T  # [W, H] → [H, W]
        normals, valid = surface_normals(depth)  # [3, H, W], [H, W]
        normals, mask = resize_normals(centre_square(normals, (1, 2)), centre_square(valid), self.resolution)
        rgb = resize_uint8(np.ascontiguousarray(centre_square(rgb), dtype=np.uint8), self.resolution)
        return {
            "image": to_image_tensor(rgb),  # [3, R, R]
            "label": int(self.labels[index]),
            "normals": torch.from_numpy(normals),  # [3, R, R]
            "mask": torch.from_numpy(mask)[None],  # [1, R, R]
            "attributes": {"index": i, "scene": self.scenes[i] if self.scenes else ""},
        }


@register("nyuv2")
def build_nyuv2(split: str, resolution: int, root, seed: int, **options) -> NYUv2Frames:
    """The labelled NYU Depth V2 frames with RGB, normals and a valid-depth mask.

    Args:
        split: ``train`` or ``test``: from ``splits.mat`` beside the data if present (795 / 654), else a
            split of the same proportion drawn from ``seed``.
        resolution: output side length (frames are centre-cropped to a square first).
        root: directory holding ``nyu_depth_v2_labeled.mat`` (or the file itself).
        seed: data seed (the fallback split).
    Raises:
        DatasetError: missing, truncated or malformed file, or bad arguments.
    """
    check_request(NYUV2, split, ("train", "test"), resolution, options)
    given = NYUV2.root(root)
    path = given if given.is_file() else NYUV2.require(given / FILENAME)
    import h5py

    with NYUV2.reading(path), h5py.File(path, "r") as f:
        if "images" not in f or "depths" not in f:
            raise NYUV2.error(f"{path} has no 'images' or 'depths' dataset (found {sorted(f.keys())})")
        images, depths = f["images"].shape, f["depths"].shape
        if len(images) != 4 or images[1] != 3 or tuple(depths) != (images[0], *images[2:]):
            raise NYUV2.error(f"{path}: images {images} and depths {depths}; expected [N, 3, W, H] and [N, W, H]")
        scenes = _scene_types(f)
    n = images[0]
    if scenes is not None and len(scenes) != n:
        raise NYUV2.error(f"{path}: {len(scenes)} sceneTypes for {n} frames")
    class_names = sorted(set(scenes)) if scenes else None
    labels = [class_names.index(s) for s in scenes] if scenes else [0] * n
    split_file = path.parent / "splits.mat"
    splits = _read_splits(split_file, n) if split_file.is_file() else _seeded_split(n, seed)
    return NYUv2Frames(path, splits[split], labels, scenes, resolution, seed, class_names)

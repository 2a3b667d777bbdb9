"""CUB-200-2011 birds (``cub``) and Oxford-102 flowers (``oxford102``) in the StackGAN data release layout.

Each split directory of the release (``train/``, ``test/``) holds ``filenames.pickle`` (N image keys),
``char-CNN-RNN-embeddings.pickle`` (N × K captions × 1024, Reed et al. 2016) and ``class_info.pickle``
(N class ids, 1-based). Captions, when ``text_c10/`` is present, are read one per line.

Preprocessing follows StackGAN (Zhang et al. 2017, §4.1 and the authors' code): CUB images are
cropped to a square of half-side ``R = int(0.75 · max(w, h))`` around the bird's bounding-box
centre (clipped to the image), every image is resized (PIL bicubic) to ``resolution · 76/64``
(76 for 64, 304 for 256) and cropped to ``resolution``: randomly, with a random horizontal flip,
when ``augment=True``, else centred.

Items: ``image`` [3, R, R], ``label`` (0-based class id = class_info − 1), ``embeddings`` float32
[K, 1024], ``attributes`` (``filename``: the release key; ``caption_index``: which of the K
captions/embeddings ``caption`` is) and, with ``text_c10/``, ``caption`` / ``captions``. Without
``text_c10/`` the release's embeddings still work: items have no ``caption``, ``all_captions()``
returns ``None`` and ``caption_index`` picks one of the K embeddings.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from . import register
from .base import resize_uint8, to_image_tensor
from .common import Published, SeededItems, check_request, load_pickle

STACKGAN_RELEASE = "https://github.com/hanzhanggit/StackGAN (char-CNN-RNN embeddings: train/, test/; text_c10/)"
CUB = Published(
    "cub",
    layout=(
        "<root>/CUB_200_2011/images/<class_dir>/<image>.jpg\n"
        "<root>/CUB_200_2011/images.txt, bounding_boxes.txt (classes.txt optional)\n"
        "<root>/train/ and <root>/test/, each with filenames.pickle, char-CNN-RNN-embeddings.pickle, class_info.pickle\n"
        "<root>/text_c10/<class_dir>/<image>.txt (optional captions, one per line)"
    ),
    url=f"https://www.vision.caltech.edu/datasets/cub_200_2011/ (images, boxes) and {STACKGAN_RELEASE}",
)
OXFORD102 = Published(
    "oxford102",
    layout=(
        "<root>/jpg/image_NNNNN.jpg (the folder is option image_dir)\n"
        "<root>/train/ and <root>/test/, each with filenames.pickle (keys jpg/image_NNNNN), "
        "char-CNN-RNN-embeddings.pickle, class_info.pickle\n"
        "<root>/text_c10/class_NNNNN/image_NNNNN.txt (optional captions, one per line)"
    ),
    url=f"https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz) and {STACKGAN_RELEASE}",
)
LOAD_SCALE = 76 / 64  # StackGAN: load 76×76 (304×304), crop 64×64 (256×256)
BOX_SCALE = 0.75  # StackGAN code: crop half-side R = int(0.75 · max(w, h))


def bbox_square(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """StackGAN's bird crop: a square of half-side ``int(0.75·max(w, h))`` around the box centre.

    Args:
        box: ``(x, y, w, h)`` from ``bounding_boxes.txt``.
        width, height: image size; the square is clipped to it.
    Returns:
        ``(left, top, right, bottom)`` for ``PIL.Image.crop``.
    """
    x, y, w, h = box
    r = int(BOX_SCALE * max(w, h))
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    return max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r)


class StackGANImages(SeededItems):
    """Images of the StackGAN release with their caption embeddings (see the module docstring).

    Args:
        paths: image file of each item.
        keys: release key of each item (``<class_dir>/<image_stem>``).
        labels: ``[N]`` 0-based class ids.
        embeddings: float32 ``[N, K, D]``.
        captions: captions of each item, or ``None`` without ``text_c10/``.
        boxes: ``(x, y, w, h)`` of each item for the bird crop, or ``None``.
        resolution: output side length.
        seed: data seed (caption choice, crops and flips).
        augment: random crop + horizontal flip instead of the centre crop.
        class_names: name of each class id, if known.
        source: the dataset, for error messages.
    """

    def __init__(
        self,
        paths: list[Path],
        keys: list[str],
        labels: np.ndarray,
        embeddings: np.ndarray,
        captions: list[list[str]] | None,
        boxes: list[tuple[float, float, float, float]] | None,
        resolution: int,
        seed: int,
        augment: bool,
        class_names: list[str] | None,
        source: Published,
    ):
        self.paths, self.keys, self.labels = paths, keys, labels
        self.embeddings = embeddings  # [N, K, D] float32
        self.captions, self.boxes = captions, boxes
        self.resolution, self.seed, self.augment = resolution, seed, augment
        self.class_names, self.source = class_names, source

    def __len__(self) -> int:
        return len(self.paths)

    def all_captions(self) -> list[list[str]] | None:
        """The captions of every item, or ``None`` without ``text_c10/`` (then :attr:`embeddings`
        ``[N, K, D]`` is the only text condition)."""
        return None if self.captions is None else [list(c) for c in self.captions]

    def _load(self, index: int) -> np.ndarray:
        path = self.paths[index]
        with self.source.reading(path), Image.open(path) as img:
            img = img.convert("RGB")
        if self.boxes is not None:
            img = img.crop(bbox_square(self.boxes[index], *img.size))
        return resize_uint8(np.asarray(img), int(self.resolution * LOAD_SCALE))  # [L, L, 3]

    def __getitem__(self, index: int) -> dict:
        index = self.position(index)
        rng = self.rng(index)
        caps = self.captions[index] if self.captions else None
        j = int(rng.integers(len(caps) if caps else len(self.embeddings[index])))
        pixels = self._load(index)  # [L, L, 3]
        res, spare = self.resolution, len(pixels) - self.resolution
        if self.augment:
            top, left = (int(v) for v in rng.integers(0, spare + 1, size=2))
        else:
            top = left = spare // 2
        pixels = pixels[top : top + res, left : left + res]  # [R, R, 3]
        if self.augment and rng.random() < 0.5:
            pixels = pixels[:, ::-1]
        item = {
            "image": to_image_tensor(pixels),  # [3, R, R]
            "label": int(self.labels[index]),
            "embeddings": torch.from_numpy(self.embeddings[index]),  # [K, D]
            "attributes": {"filename": self.keys[index], "caption_index": j},
        }
        if caps:
            item["caption"], item["captions"] = caps[j], list(caps)
        return item


# --------------------------------------------------------------------------- release files
def read_release(folder: Path, source: Published) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One split directory of the release → keys, embeddings ``[N, K, D]`` and 1-based class ids ``[N]``.

    Raises:
        DatasetError: a pickle is missing, corrupt, or the three disagree in length or shape.
    """
    if not folder.is_dir():
        raise source.error(f"missing split directory {folder}")
    keys = load_pickle(folder / "filenames.pickle", source)
    if not isinstance(keys, (list, tuple, np.ndarray)) or not all(isinstance(k, (str, bytes)) for k in keys):
        raise source.error(f"{folder / 'filenames.pickle'} must hold a list of image keys")
    keys = [k.decode("latin1") if isinstance(k, bytes) else str(k) for k in keys]
    path = folder / "char-CNN-RNN-embeddings.pickle"
    raw = load_pickle(path, source)
    with source.reading(path):
        embeddings = np.asarray(raw, dtype=np.float32)  # [N, K, D] (or [N, D]: one caption each)
    if embeddings.ndim == 2:
        embeddings = embeddings[:, None, :]
    classes = np.asarray(load_pickle(folder / "class_info.pickle", source)).reshape(-1)
    if embeddings.ndim != 3 or len(embeddings) != len(keys) or len(classes) != len(keys):
        raise source.error(
            f"{folder}: {len(keys)} filenames, embeddings of shape {embeddings.shape} and {len(classes)} class ids; "
            "expected N filenames, embeddings [N, captions, 1024] and N class ids"
        )
    if not np.issubdtype(classes.dtype, np.integer) or (classes.size and classes.min() < 1):
        raise source.error(f"{folder / 'class_info.pickle'} must hold 1-based integer class ids")
    return keys, embeddings, classes.astype(np.int64)


def read_captions(paths: list[Path], source: Published) -> list[list[str]]:
    """One caption list per file (non-empty lines)."""
    out = []
    for path in paths:
        with source.reading(path):
            out.append([line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()])
        if not out[-1]:
            raise source.error(f"{path} holds no caption")
    return out


def read_cub_boxes(cub_dir: Path) -> dict[str, tuple[int, int, int, int]]:
    """``images.txt`` + ``bounding_boxes.txt`` → ``{key: (x, y, w, h)}`` (keys without ``.jpg``)."""
    tables = {}
    for name in ("images.txt", "bounding_boxes.txt"):
        path = CUB.require(cub_dir / name)
        with CUB.reading(path):
            tables[name] = dict(line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    boxes = {}
    for image_id, rel in tables["images.txt"].items():
        if image_id not in tables["bounding_boxes.txt"]:
            raise CUB.error(f"image id {image_id} ({rel}) has no line in {cub_dir / 'bounding_boxes.txt'}")
        with CUB.reading(cub_dir / "bounding_boxes.txt"):
            x, y, w, h = (int(float(v)) for v in tables["bounding_boxes.txt"][image_id].split())  # whole pixels, as in StackGAN
        boxes[rel.strip().removesuffix(".jpg")] = (x, y, w, h)
    return boxes


def read_cub_class_names(cub_dir: Path) -> list[str] | None:
    """``classes.txt`` (``1 001.Black_footed_Albatross``) → ``["Black footed Albatross", ...]``."""
    path = cub_dir / "classes.txt"
    if not path.is_file():
        return None
    with CUB.reading(path):
        rows = [line.split(maxsplit=1)[1] for line in path.read_text().splitlines() if line.strip()]
    return [row.split(".", 1)[-1].replace("_", " ") for row in rows]


def _build(
    source: Published,
    split: str,
    resolution: int,
    root,
    seed: int,
    augment: bool,
    options: dict,
    image_path: Callable[[Path, str], Path],
    caption_path: Callable[[Path, str, int], Path],
    boxes: Callable[[Path], dict] | None = None,
    class_names: Callable[[Path], list[str] | None] = lambda root: None,
) -> StackGANImages:
    check_request(source, split, ("train", "test"), resolution, options)
    folder = source.root(root)
    keys, embeddings, classes = read_release(folder / split, source)
    paths = [image_path(folder, k) for k in keys]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise source.error(f"{len(missing)} of {len(paths)} images are missing, e.g. {missing[0]}")
    captions = None
    if (folder / "text_c10").is_dir():
        captions = read_captions([caption_path(folder, k, c) for k, c in zip(keys, classes)], source)
    item_boxes = None
    if boxes is not None:
        table = boxes(folder)
        absent = [k for k in keys if k not in table]
        if absent:
            raise source.error(f"no bounding box for {len(absent)} image(s), e.g. {absent[0]}")
        item_boxes = [table[k] for k in keys]
    return StackGANImages(
        paths, keys, classes - 1, embeddings, captions, item_boxes, resolution, seed, bool(augment),
        class_names(folder), source,
    )


@register("cub")
def build_cub(split: str, resolution: int, root, seed: int, augment: bool = False, **options) -> StackGANImages:
    """CUB-200-2011 with the StackGAN release (8,855 train / 2,933 test images, class-disjoint).

    Args:
        split: ``train`` or ``test``.
        resolution: output side length (64 for Stage-I, 256 for Stage-II).
        root: StackGAN's ``Data/birds`` directory (see ``CUB.layout``).
        seed: data seed (caption choice, crops, flips).
        augment: random crop and horizontal flip (training), else centre crop.
    Raises:
        DatasetError: missing, corrupt or inconsistent files, or bad arguments.
    """
    cub_dir = lambda r: r / "CUB_200_2011"  # noqa: E731
    return _build(
        CUB, split, resolution, root, seed, augment, options,
        image_path=lambda r, key: cub_dir(r) / "images" / f"{key}.jpg",
        caption_path=lambda r, key, _: r / "text_c10" / f"{key}.txt",
        boxes=lambda r: read_cub_boxes(cub_dir(r)),
        class_names=lambda r: read_cub_class_names(cub_dir(r)),
    )


@register("oxford102")
def build_oxford102(
    split: str, resolution: int, root, seed: int, augment: bool = False, image_dir: str = "jpg", **options
) -> StackGANImages:
    """Oxford-102 flowers with the StackGAN release (no bounding boxes, so no bird crop).

    The release keys are ``jpg/image_NNNNN``; an image is read from ``<root>/<image_dir>/image_NNNNN.jpg``
    and its captions from ``<root>/text_c10/class_<class id, 5 digits>/image_NNNNN.txt`` (as in StackGAN's
    ``misc/datasets.py``).

    Args:
        split: ``train`` or ``test``.
        resolution: output side length.
        root: StackGAN's ``Data/flowers`` directory (see ``OXFORD102.layout``).
        seed: data seed (caption choice, crops, flips).
        augment: random crop and horizontal flip (training), else centre crop.
        image_dir: folder under ``root`` holding the ``image_NNNNN.jpg`` files (``jpg`` in 102flowers.tgz).
    Raises:
        DatasetError: missing, corrupt or inconsistent files, or bad arguments.
    """
    stem = lambda key: key.rsplit("/", 1)[-1]  # noqa: E731
    return _build(
        OXFORD102, split, resolution, root, seed, augment, options,
        image_path=lambda r, key: r / image_dir / f"{stem(key)}.jpg",
        caption_path=lambda r, key, c: r / "text_c10" / f"class_{int(c):05d}" / f"{stem(key)}.txt",
    )

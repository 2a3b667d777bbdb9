"""SVHN (Street View House Numbers), cropped-digit format ``*_32x32.mat``, with label-derived captions."""
from __future__ import annotations

import numpy as np

from . import register
from .common import (DIGIT_NAMES, DIGIT_TRAITS, LabelledImages, Published, check_channels, check_request,
                     class_captions)

SVHN = Published(
    "svhn",
    layout="<root>/train_32x32.mat, <root>/test_32x32.mat (optionally <root>/extra_32x32.mat)",
    url="http://ufldl.stanford.edu/housenumbers/ (Format 2: cropped digits)",
)
CAPTION_TEMPLATES = (
    "a photo of the house number digit {name}",
    "the digit {index} on a house number sign",
    "a street view photo of the number {name}",
    "a cropped house number showing the digit {index}",
    "the number {name} photographed on a building",
    "a printed digit {name} from a street sign",
)
CAPTIONS = class_captions(CAPTION_TEMPLATES, DIGIT_NAMES)


def read_svhn_mat(path) -> tuple[np.ndarray, np.ndarray]:
    """One SVHN ``.mat`` → uint8 images ``[N, 32, 32, 3]`` and labels ``[N]`` (label 10 means digit 0)."""
    from scipy.io import loadmat

    SVHN.require(path)
    with SVHN.reading(path):
        mat = loadmat(path, variable_names=["X", "y"])
    X, y = mat.get("X"), mat.get("y")
    if X is None or y is None or X.ndim != 4 or X.shape[2] != 3 or X.shape[3] != y.size:
        raise SVHN.error(
            f"{path} holds X {getattr(X, 'shape', None)} and y {getattr(y, 'shape', None)}; "
            "expected X [32, 32, 3, N] and y [N, 1]"
        )
    labels = y.reshape(-1).astype(np.int64)  # [N]
    if labels.size and (labels.min() < 0 or labels.max() > 10):
        raise SVHN.error(f"{path} holds labels outside 1..10")
    labels %= 10  # SVHN stores digit 0 as label 10
    images = np.ascontiguousarray(X.transpose(3, 0, 1, 2), dtype=np.uint8)  # [N, 32, 32, 3]
    return images, labels


@register("svhn", traits=DIGIT_TRAITS)
def build_svhn(split: str, resolution: int, root, seed: int, channels: int = 3, **options) -> LabelledImages:
    """SVHN cropped digits (73,257 train / 26,032 test / 531,131 extra).

    Args:
        split: ``train``, ``test`` or ``extra``.
        resolution: output side length.
        root: directory holding the ``*_32x32.mat`` files.
        seed: caption-choice seed.
        channels: 3 (default) or 1 (luminance).
    Raises:
        DatasetError: missing or malformed ``.mat`` file, or bad arguments.
    """
    check_request(SVHN, split, ("train", "test", "extra"), resolution, options)
    check_channels(SVHN, channels)
    images, labels = read_svhn_mat(SVHN.root(root) / f"{split}_32x32.mat")
    return LabelledImages(images, labels, resolution, DIGIT_NAMES, CAPTIONS, seed=seed, channels=channels)

"""Shared pieces of every dataset: the error type, image conversion and the item contract.

Every dataset returned by :func:`core.data.load_dataset` yields dict items with at least

- ``image``: float32 tensor ``[C, H, W]`` in ``[-1, 1]``;
- ``label``: int (class id);

and, where the dataset has them,

- ``caption``: str, one of the image's captions (chosen deterministically from the seed);
- ``captions``: list[str], all captions of the image;
- ``embeddings``: float32 tensor ``[K, D]``, precomputed caption embeddings (StackGAN release);
- ``attributes``: dict of the generating attributes (``shapes``) or metadata;
- ``normals``: float32 tensor ``[3, H, W]`` of unit surface normals;
- ``mask``: float32 tensor ``[1, H, W]`` in ``{0, 1}`` (object / valid-pixel mask).

Datasets may also expose ``class_names`` (list[str]) and ``all_captions()`` (list[list[str]]),
which the training loop uses to pre-encode captions once.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image


class DatasetError(RuntimeError):
    """A dataset is missing, truncated or malformed. The message says what was expected."""


def describe_problem(dataset: str, problem: str, layout: str, source: str) -> str:
    """Format one clear, actionable error message for a dataset that cannot be read."""
    return (
        f"{dataset}: {problem}\n"
        f"Expected layout:\n{layout}\n"
        f"The data is published at: {source}"
    )


def to_image_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 ``[H, W]`` or ``[H, W, C]`` → float32 ``[C, H, W]`` in ``[-1, 1]``."""
    if array.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image array, got {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    t = torch.from_numpy(np.array(array.transpose(2, 0, 1)))  # [C, H, W] uint8 (a writable copy)
    return t.float().div_(127.5).sub_(1.0)


def resize_uint8(array: np.ndarray, size: int, resample=Image.BICUBIC) -> np.ndarray:
    """Resize a uint8 ``[H, W]`` / ``[H, W, C]`` image to ``size × size`` with PIL (anti-aliased)."""
    if array.shape[0] == size and array.shape[1] == size:
        return array
    img = Image.fromarray(array)
    return np.asarray(img.resize((size, size), resample=resample))


def image_to_uint8(image: torch.Tensor) -> np.ndarray:
    """float ``[C, H, W]`` in ``[-1, 1]`` → uint8 ``[H, W, C]`` (for previews and saving)."""
    x = image.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy()

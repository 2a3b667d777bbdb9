"""Pictures for people: captioned image grids (sample sheets for runs, the benchmark and the demo)."""
from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from core.data.base import image_to_uint8


def upscale(img: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour upscale of a uint8 ``[H, W, C]`` image to ``size`` (pixels stay visible)."""
    if img.shape[0] == size:
        return img
    return np.asarray(Image.fromarray(img).resize((size, size), Image.NEAREST))


def captioned_rows(images: torch.Tensor, captions: Sequence[str], cell: int = 96,
                   text_width: int = 220) -> Image.Image:
    """One row per caption: the caption on the left, then that row's images.

    Args:
        images: ``[R, K, C, H, W]`` in [-1, 1] (R captions × K samples).
        captions: R strings.
        cell: displayed side of each image (nearest-neighbour upscaled).
        text_width: width of the caption column in pixels.
    """
    R, K = images.shape[:2]
    pad = 4
    sheet = Image.new("RGB", (text_width + K * (cell + pad) + pad, R * (cell + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r in range(R):
        y = pad + r * (cell + pad)
        lines = textwrap.wrap(captions[r], width=max(10, text_width // 7))[: max(1, cell // 12)]
        draw.multiline_text((pad, y + 2), "\n".join(lines), fill="black", font=font)
        for k in range(K):
            arr = image_to_uint8(images[r, k])
            if arr.shape[2] == 1:
                arr = np.repeat(arr, 3, axis=2)
            sheet.paste(Image.fromarray(upscale(arr, cell)), (text_width + pad + k * (cell + pad), y))
    return sheet

"""Dataset tools: ``python -m core.data {preview, list}``.

``preview`` writes a PNG grid of a dataset's items (one per class first), each with one of its
captions written under it, and its normal map next to it when items have ``normals``. It works for
any dataset that :func:`core.data.load_dataset` knows::

    python -m core.data preview --dataset shapes --resolution 64 --out results/shapes_preview.png
    python -m core.data preview --dataset shapes --resolution 64 --out /tmp/p.png -o size=16
"""
from __future__ import annotations

import argparse
import ast
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.data import available_datasets, load_dataset
from core.data.base import DatasetError, image_to_uint8

MIN_DISPLAY = 128  # tiles are upscaled (nearest neighbour) by an integer factor to at least this side
GAP = 4  # pixels between an image and its normal map
MARGIN = 8  # pixels around and between cells
CAPTION_LINES = 3  # wrapped caption lines under each cell (longer captions end with "…")
FONT_SIZE = 12
BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default(size=FONT_SIZE)  # PIL's bundled font: nothing to install


def display_size(resolution: int) -> int:
    """Side of one displayed tile: ``resolution`` times the smallest integer reaching ``MIN_DISPLAY``."""
    return resolution * max(1, math.ceil(MIN_DISPLAY / resolution))


def caption_height() -> int:
    """Height of the caption area under each cell: ``CAPTION_LINES`` lines plus padding."""
    ascent, descent = _font().getmetrics()
    return CAPTION_LINES * (ascent + descent + 2) + 4


def grid_size(n: int, cols: int, resolution: int, with_normals: bool) -> tuple[int, int]:
    """``(width, height)`` of the preview PNG for ``n`` items in ``cols`` columns."""
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    side = display_size(resolution)
    cell_w = 2 * side + GAP if with_normals else side
    return cols * cell_w + (cols + 1) * MARGIN, rows * (side + caption_height()) + (rows + 1) * MARGIN


def wrap(text: str, width: int, font: ImageFont.ImageFont, lines: int = CAPTION_LINES) -> list[str]:
    """Greedy word wrap of ``text`` to at most ``lines`` lines of ``width`` pixels."""
    out: list[str] = []
    words = text.split()
    while words and len(out) < lines:
        line = words.pop(0)
        while words and font.getlength(line + " " + words[0]) <= width:
            line += " " + words.pop(0)
        out.append(line)
    if words:  # overflow: shorten the last line until the ellipsis fits
        last = out[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        out[-1] = last.rstrip() + "…"
    return out


def _to_rgb(image) -> np.ndarray:
    """float ``[C, H, W]`` in ``[-1, 1]`` → uint8 ``[H, W, 3]``."""
    a = image_to_uint8(image)
    return np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a[:, :, :3]


def _normals_rgb(normals) -> np.ndarray:
    """Unit normals ``[3, H, W]`` → uint8 ``[H, W, 3]`` (the usual ``(n + 1) / 2`` colouring)."""
    n = normals.detach().float().clamp(-1, 1).cpu().numpy()
    return np.rint((n.transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)


def _describe(item: dict, class_names: Sequence[str] | None) -> str:
    if item.get("caption"):
        return str(item["caption"])
    if class_names is not None and "label" in item:
        return str(class_names[int(item["label"])])
    return f"label {item.get('label', '?')}"


def pick_items(dataset, n: int, pick: str = "classes") -> list[int]:
    """Indices of the items to show.

    Args:
        dataset: any dataset of dict items with a ``label``.
        n: how many (at most ``len(dataset)``).
        pick: ``first`` (the first ``n`` items) or ``classes`` (the first item of each class in label
            order, then the second of each, ...; it scans items in order until it has ``n`` classes,
            or enough of every class in ``dataset.class_names``, or ``50 · n`` items), so that a
            short preview shows many classes.
    Returns:
        ``n`` distinct indices.
    """
    n = min(n, len(dataset))
    if pick == "first":
        return list(range(n))
    if pick != "classes":
        raise ValueError(f"pick must be 'first' or 'classes', got {pick!r}")
    n_classes = len(getattr(dataset, "class_names", None) or []) or None
    per_class = math.ceil(n / n_classes) if n_classes else n
    by_label: dict[int, list[int]] = {}
    full = 0  # classes holding per_class items
    for i in range(min(len(dataset), 50 * n)):
        found = by_label.setdefault(int(dataset[i]["label"]), [])
        if len(found) < per_class:
            found.append(i)
            full += len(found) == per_class
        if len(by_label) >= n or full == n_classes:
            break
    rounds = [[idx[r] for _, idx in sorted(by_label.items()) if r < len(idx)] for r in range(n)]
    chosen = [i for r in rounds for i in r][:n]
    rest = (i for i in range(len(dataset)) if i not in set(chosen))
    return chosen + [next(rest) for _ in range(n - len(chosen))]


def render_preview(dataset, n: int = 16, cols: int = 4, pick: str = "classes") -> Image.Image:
    """A grid of ``n`` items of ``dataset`` with captions (and normal maps, if present).

    Args:
        dataset: a dataset following the item contract of :mod:`core.data.base`.
        n: number of items (at most ``len(dataset)``).
        cols: items per row.
        pick: which items, see :func:`pick_items`.
    Returns:
        The RGB grid, of size :func:`grid_size`.
    """
    n = min(n, len(dataset))
    if n < 1:
        raise DatasetError("preview: the dataset is empty")
    items = [dataset[i] for i in pick_items(dataset, n, pick)]
    resolution = items[0]["image"].shape[-1]
    with_normals = "normals" in items[0]
    side = display_size(resolution)
    scale = side // resolution
    cols = min(cols, n)
    grid = Image.new("RGB", grid_size(n, cols, resolution, with_normals), BACKGROUND)
    draw = ImageDraw.Draw(grid)
    font = _font()
    cell_w = 2 * side + GAP if with_normals else side
    line_h = sum(font.getmetrics()) + 2
    names = getattr(dataset, "class_names", None)
    for k, item in enumerate(items):
        x = MARGIN + (k % cols) * (cell_w + MARGIN)
        y = MARGIN + (k // cols) * (side + caption_height() + MARGIN)
        tiles = [_to_rgb(item["image"])] + ([_normals_rgb(item["normals"])] if with_normals else [])
        for t, tile in enumerate(tiles):
            img = Image.fromarray(tile).resize((side, side), Image.NEAREST) if scale > 1 else Image.fromarray(tile)
            grid.paste(img, (x + t * (side + GAP), y))
        for j, line in enumerate(wrap(_describe(item, names), cell_w, font)):
            draw.text((x, y + side + 3 + j * line_h), line, fill=TEXT, font=font)
    return grid


def _option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value  # a plain string


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.data", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    pv = sub.add_parser("preview", help="write a PNG grid of samples with their captions")
    pv.add_argument("--dataset", required=True, help=f"one of {available_datasets()}")
    pv.add_argument("--resolution", type=int, default=64, help="image side in pixels (default 64)")
    pv.add_argument("--out", required=True, type=Path, help="output PNG path")
    pv.add_argument("--n", type=int, default=16, help="number of items (default 16)")
    pv.add_argument("--cols", type=int, default=4, help="items per row (default 4)")
    pv.add_argument("--pick", choices=["classes", "first"], default="classes",
                    help="classes: one item per class first (default); first: the first n items")
    pv.add_argument("--split", default="train", help="split (default train)")
    pv.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    pv.add_argument("--root", default=None, help="directory of a downloaded dataset")
    pv.add_argument("-o", "--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                    help="dataset option, repeatable (e.g. -o size=16: the first 16 items; shapes renders 16)")
    sub.add_parser("list", help="list the dataset names")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a dataset error, with the reason on stderr)."""
    args = build_parser().parse_args(argv)
    if args.command == "list":
        print("\n".join(available_datasets()))
        return 0
    if args.n < 1 or args.cols < 1:
        print("error: --n and --cols must be at least 1", file=sys.stderr)
        return 2
    try:
        ds = load_dataset(args.dataset, split=args.split, resolution=args.resolution, root=args.root,
                          seed=args.seed, **dict(args.option))
        grid = render_preview(ds, n=args.n, cols=args.cols, pick=args.pick)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    print(f"wrote {args.out} ({grid.width}x{grid.height}, {min(args.n, len(ds))} items of {args.dataset})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

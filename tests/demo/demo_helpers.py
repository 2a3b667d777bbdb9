"""Helpers the demo tests share (``from demo_helpers import ...``: pytest puts a test's folder on the path):
what a visitor must never read (a server path, a Python file, a traceback, an OS error), a free port, and
a batch of images as the PNG pixels a tab shows."""
from __future__ import annotations

import re
import socket

import numpy as np
import torch

from demo.serving import to_png_array

LEAK = re.compile(r"/tmp/|/work/|/home/|/root/|/usr/|site-packages|\.py\b|Traceback|Errno|File \"|"
                  r"Exception|Error:")
DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")  # inline images: not text a visitor reads


def assert_no_leak(*texts):
    for t in texts:
        visible = DATA_URI.sub("", str(t))
        assert not LEAK.search(visible), f"leaked to a visitor: {LEAK.search(visible).group(0)!r} in {visible[:300]!r}"


def free_port() -> int:
    """A free localhost port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pngs(images: torch.Tensor, scale: int) -> list[np.ndarray]:
    """Each image of ``images`` as the tab shows it (``demo.serving.to_png_array`` at ``scale``)."""
    return [to_png_array(x, scale) for x in images]

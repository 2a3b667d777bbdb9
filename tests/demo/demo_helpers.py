"""Helpers the demo tests share (``from demo_helpers import ...``: pytest puts a test's folder on the path):
what a visitor must never read (a server path, a Python file, a traceback, an OS error), a free port,
a batch of images as the PNG pixels a tab shows, and a table's health file as the bench writes it."""
from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
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


def health_table(folder: Path, paper: str, dataset: str, rows: dict[str, list[tuple]]) -> None:
    """A table folder as the bench writes it: table.json (its paper, dataset, rows and their gates) and health.csv,
    ``rows``: row -> [(gate, metric, value, threshold, passed)]."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "table.json").write_text(json.dumps({"paper": paper, "dataset": dataset, "rows": [
        {"id": r, "gates": [g[0] for g in gates]} for r, gates in rows.items()]}))
    pd.DataFrame([{"row": r, "gate": g, "metric": m, "value": v, "threshold": t, "passed": p, "seeds": 2,
                   "split": "val", "note": ""} for r, gates in rows.items() for g, m, v, t, p in gates]
                 ).to_csv(folder / "health.csv", index=False)


def failing_gates(folder: Path, row: str) -> list[str]:
    """Each failed gate of ``row`` in ``folder/health.csv`` as a tab's quality line prints it (read here on its
    own): ``49.4 (must be ≤ 26.2)``, value and threshold to three significant digits."""
    h = pd.read_csv(folder / "health.csv")
    bad = h[(h["row"] == row) & (h["passed"].astype(str) == "False")]
    return [f"{v:.3g} (must be {'≤' if '<=' in g else '≥'} {t:.3g})"
            for g, v, t in zip(bad["gate"], bad["value"], bad["threshold"])]

"""Plots for the benchmark: mean ± sd across training seeds per row and metric, the paper's
values marked; and one sample sheet per row (same captions, same seeds for every row)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from bench.spec import HIGHER_IS_BETTER  # noqa: E402


def plot_metrics(runs: pd.DataFrame, order: list[str], paper: dict[str, dict], path: Path) -> Path:
    """One panel per metric: bars = mean over seeds, error bars = sd, dots = seeds; the paper's
    values (a different dataset and classifier, so a different scale) on a twin axis as red marks."""
    ok = runs.dropna(subset=["value"])
    metrics = list(dict.fromkeys(ok["metric"]))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(6, 0.8 * len(order) + 2), 2.8 * len(metrics)),
                             squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics):
        d = ok[ok["metric"] == metric]
        rows = [r for r in order if r in set(d["row"])]
        sns.barplot(d, x="row", y="value", order=rows, errorbar="sd", capsize=0.2, color="#8fb3d9", ax=ax)
        sns.stripplot(d, x="row", y="value", order=rows, color="black", size=3, ax=ax)
        arrow = "↑" if HIGHER_IS_BETTER.get(metric, True) else "↓"
        ax.set_ylabel(f"{metric} {arrow}")
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=30)
        marks = [(i, paper.get(r, {}).get(metric)) for i, r in enumerate(rows)]
        marks = [(i, v) for i, v in marks if v is not None]
        if marks:
            twin = ax.twinx()
            twin.errorbar([i for i, _ in marks], [v[0] for _, v in marks], yerr=[v[1] for _, v in marks],
                          fmt="D", color="crimson", label="paper")
            twin.set_ylabel(f"paper {metric}", color="crimson")
            twin.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sample_sheet(checkpoint: Path, captions: list[str], seeds: list[int], path: Path) -> Path:
    """Generated images of one row: a line per caption, a column per seed (stage1 beside the final
    image for stacked models)."""
    import torch

    from core.pipeline import Pipeline
    from core.viz import captioned_rows

    pipe = Pipeline.from_checkpoint(checkpoint)
    caps = [c for c in captions for _ in seeds]
    out = pipe.generate(caps, seeds=list(seeds) * len(captions))
    res = pipe.resolution
    cols = []
    for s in range(len(seeds)):
        for name in ("stage1", "image"):
            if name in out:
                img = out[name].view(len(captions), len(seeds), *out[name].shape[1:])[:, s]
                if img.shape[-1] != res:
                    img = torch.nn.functional.interpolate(img, size=res, mode="nearest")
                cols.append(img)
    grid = torch.stack(cols, dim=1)  # [R, K, C, H, W]
    path.parent.mkdir(parents=True, exist_ok=True)
    captioned_rows(grid, captions).save(path)
    return path

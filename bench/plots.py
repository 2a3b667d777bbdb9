"""Plots for the benchmark: mean ± sd across training seeds per row and metric, the paper's
values marked; and one sample sheet per row (same captions, same seeds for every row)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from bench.spec import higher_is_better  # noqa: E402


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
        arrow = "↑" if higher_is_better(metric) else "↓"
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


SHEET_ITEMS = tuple(range(0, 6 * 37, 37))  # the test items whose conditions every sample sheet shows


def sheet_conditions(pipe, items=SHEET_ITEMS) -> tuple[dict, list[str]]:
    """``generate`` keywords for the conditions of test ``items`` of the pipeline's dataset, of the
    pipeline's kinds, and one row label each: the caption, the class, the structure map's item, or,
    for an unconditional model, the seeds of the row. Every row of a table gets the same ones."""
    from core.data import load_dataset

    kinds = pipe.conditions
    if not kinds:
        return {}, [f"samples (row {r + 1})" for r in range(len(items))]
    test = load_dataset(pipe.cfg.dataset, split="test", resolution=pipe.resolution, root=pipe.cfg.dataset_root,
                        seed=0)
    items = [i for i in items if i < len(test)] or [0]
    data = [test[i] for i in items]
    cond, names = {}, [""] * len(items)
    if "text" in kinds:
        cond["captions"] = [d["caption"] for d in data]
        names = cond["captions"]
    if "label" in kinds:
        import torch

        cond["labels"] = torch.tensor([d["label"] for d in data])
        classes = list(getattr(test, "class_names", None) or [])
        names = [f"{n}  [class {d['label']}{': ' + classes[d['label']] if d['label'] < len(classes) else ''}]".strip()
                 for n, d in zip(names, data)]
    if "structure" in kinds:
        import torch

        cond["structure"] = torch.stack([d["normals"] for d in data])
        names = [f"{n}  [normals of test item {i}]".strip() for n, i in zip(names, items)]
    return cond, names


def sample_sheet(checkpoint: Path, seeds: list[int], path: Path, items=SHEET_ITEMS) -> Path:
    """Generated images of one table row: a line per condition of :func:`sheet_conditions`, a column
    per seed (stage1 beside the final image for stacked models); an unconditional model's line ``r``
    uses seeds ``seeds + r · len(seeds)``."""
    import torch

    from core.pipeline import Pipeline
    from core.viz import captioned_rows

    pipe = Pipeline.from_checkpoint(checkpoint)
    conditions, row_names = sheet_conditions(pipe, items)
    rows, k = len(row_names), len(seeds)
    if conditions:
        repeated = {key: ([v for v in val for _ in seeds] if isinstance(val, list) else val.repeat_interleave(k, 0))
                    for key, val in conditions.items()}
        out = pipe.generate(**repeated, seeds=list(seeds) * rows)
    else:
        out = pipe.generate(seeds=[s + r * k for r in range(rows) for s in seeds])
    res = pipe.resolution
    cols = []
    for s in range(k):
        for name in ("stage1", "image"):
            if name in out:
                img = out[name].view(rows, k, *out[name].shape[1:])[:, s]
                if img.shape[-1] != res:
                    img = torch.nn.functional.interpolate(img, size=res, mode="nearest")
                cols.append(img)
    grid = torch.stack(cols, dim=1)  # [R, K, C, H, W]
    path.parent.mkdir(parents=True, exist_ok=True)
    captioned_rows(grid, row_names).save(path)
    return path

"""SGAN tab (Stacked GANs, Huang et al., CVPR 2017; not the semi-supervised GAN): a class → samples;
one row per class; and the paper's Fig. 2 experiment: fix the class y and z1 (so fc3 is fixed) and
re-roll z0, with the full SGAN beside the same model trained without the entropy loss.

The models are found on disk, by name, under one folder (:data:`DEFAULT_ROOT`, or
``$SGAN_DEMO_CHECKPOINTS``, or ``ctx.checkpoints["sgan"]``): ``sgan-<dataset>`` for each of
:data:`DATASETS`, and its ``sgan-<dataset>-noent`` sibling (trained with ``model.ent_weight=0``). Missing
ones are skipped; with none, the tab says which command makes one.

Every request goes through a :class:`~demo.serving.NoiseBatcher` (the StackGAN tab's batching queue,
for labels instead of captions), so visitors who click at the same moment share one forward pass and each gets the images
it would have got alone."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from html import escape as esc
from pathlib import Path

import gradio as gr
import torch

from core.data import class_names
from core.pipeline import Pipeline
from demo import health, validate
from demo.serving import (SAVE_JS, SEED_LIMIT, NoiseBatcher, NoiseJob, Sample, gallery_html, safe, seeds_from, slug,
                          to_png_array)
from demo.tabs import Context, Tab

log = logging.getLogger("demo")

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "results" / "checkpoints"  # read at build time
# bench.sgan_figures' measurements of the shipped models: results/sgan/figures/<dataset>/scores.json
FIGURES = Path(__file__).resolve().parent.parent / "results" / "sgan" / "figures"
DATASETS = {"mnist5k": "MNIST digits (mnist5k)", "shapes": "shapes (the shape is the class)"}  # shown in this order
NOENT = "-noent"  # suffix of the no-entropy-loss sibling (Fig. 2d)
N = 8  # samples per class, per row and per strip
DISPLAY = 96  # about this many pixels per image side (enlarged by whole pixels)
SEED_MAX = SEED_LIMIT - 1
PAPER = "https://arxiv.org/abs/1612.04357"
# The table rows the shipped models are (results/checkpoints/README.md: the sgan and sgan-no-ent cells of seed 0 of
# each dataset's pilot), in the SGAN table of the model's dataset (demo.health.table_folder)
ROWS = {False: ("sgan", "SGAN"), True: ("sgan-no-ent", "SGAN without the entropy loss")}
HEALTH_COMMAND = "python -m bench.ablations --paper sgan --dataset <dataset> --health"

# One line: what makes the models this tab looks for (the first model needs a trained encoder E).
MISSING = ("No SGAN model is on disk yet, so this tab cannot make images. `scripts/ship_sgan.sh` trains them "
           "(an encoder, SGAN and SGAN without the entropy loss, for mnist5k and shapes: about half an hour on a "
           "CPU core) and writes them to `results/checkpoints/sgan-<dataset>[-noent]`.")
NO_NOENT = ("No model without the entropy loss is on disk for {ds}: train one with `--set model.ent_weight=0` "
            "into `results/checkpoints/sgan-{ds}-noent` to compare.")

INTRO = f"""Pick a class and press **Samples**. [SGAN]({PAPER}) (Huang et al., CVPR 2017) learns to invert a
classifier E that was trained first and then frozen: E reads an image, computes 256 features (its layer
**fc3**) and from them the class. SGAN generates top-down, one level of E at a time, each level with its own
noise:

- **y**, the class you pick;
- **z1** → **G1** turns (y, z1) into fc3 features: the coarse content, such as a digit's pose, slant and
  overall shape;
- **z0** → **G0** draws the image from those features and z0: the low-level detail fc3 leaves open, such as
  stroke width and texture.

Each generator is trained to fool a discriminator at its level, to make features from which E gives back its
input (the *conditional loss*), and to keep its noise recoverable from what it made (the *entropy loss*), so
that it cannot ignore the noise.

The models here were trained for a few minutes on one CPU core (the `quick` preset)."""

FIX_Z1 = """### Fix the class and z1, re-roll z0
Both rows below use the same class y and the same z1, so G1 makes the same fc3 for every image of a row;
only z0 changes from image to image (seeds z0, z0+1, ...). Left: the full SGAN, where z0 changes the
low-level detail. Right: the same model trained **without the entropy loss** (the paper's Fig. 2d): nothing
stops G0 from ignoring z0, and it does, so the right row barely changes. **New z1** draws new coarse content;
**Re-roll z0** draws the next eight z0 seeds. The same seeds always give the same images."""


@dataclass
class Model:
    """One dataset's models: the full SGAN and, if on disk, its no-entropy sibling."""

    dataset: str
    full: NoiseBatcher
    noent: NoiseBatcher | None
    classes: tuple[str, ...]  # label k → name

    @property
    def scale(self) -> int:
        return max(1, DISPLAY // self.full.pipe.resolution)


def _load(path: Path) -> Pipeline:
    pipe = Pipeline.from_checkpoint(path)
    if pipe.conditions != ("label",) or "z1" not in pipe.spec.noise_shapes(pipe.cfg.model):
        raise ValueError(f"{pipe.cfg.model_name} at {path} is not a stacked, label-conditioned SGAN")
    return pipe


class SGANDemo:
    """The models found under ``root`` (loaded once, at start-up) and the tab's actions.

    Args:
        root: folder holding ``sgan-<dataset>`` and ``sgan-<dataset>-noent`` (checkpoint or run
            directories); default: ``$SGAN_DEMO_CHECKPOINTS``, else :data:`DEFAULT_ROOT`.
    """

    def __init__(self, root: str | Path | None = None):
        root = Path(root or os.environ.get("SGAN_DEMO_CHECKPOINTS") or DEFAULT_ROOT)
        self.models: dict[str, Model] = {}
        self.problems: list[str] = []  # one line per model on disk that could not be loaded
        for ds in DATASETS:
            path = root / f"sgan-{ds}"
            if not path.exists():
                continue
            try:
                full = _load(path)
            except Exception:  # the app must still start: the other models and tabs work without it
                log.exception("SGAN checkpoint %s could not be loaded", path)
                self.problems.append(f"The {ds} model could not be loaded (the server log says why).")
                continue
            noent = None
            if (root / f"sgan-{ds}{NOENT}").exists():
                try:
                    noent = NoiseBatcher(_load(root / f"sgan-{ds}{NOENT}"))
                except Exception:
                    log.exception("SGAN checkpoint %s could not be loaded", root / f"sgan-{ds}{NOENT}")
                    self.problems.append(f"The {ds} model without the entropy loss could not be loaded "
                                         "(the server log says why).")
            self.models[ds] = Model(ds, NoiseBatcher(full), noent, class_names(ds, full.info.num_classes))

    @property
    def error(self) -> str | None:
        return None if self.models else MISSING

    @property
    def datasets(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the dataset dropdown."""
        return [(DATASETS[ds], ds) for ds in self.models]

    def _model(self, dataset) -> Model:
        if not self.models:
            raise gr.Error(MISSING)
        if dataset not in self.models:
            raise gr.Error(f"Pick a dataset from {', '.join(self.models)}; got {dataset!r}.")
        return self.models[dataset]

    def _label(self, model: Model, name) -> int:
        if name not in model.classes:
            raise gr.Error(f"Pick a class of {model.dataset}: {', '.join(model.classes)}; got {name!r}.")
        return model.classes.index(name)

    # ------------------------------------------------------------------------------------ generation
    def samples(self, dataset: str, labels: list[int], z1_seeds: list[int], z0_seeds: list[int],
                noent: bool = False) -> dict[str, torch.Tensor]:
        """``{"image": [n, C, H, W], "fc3": [n, F]}``: sample ``i`` of class ``labels[i]`` with z1 from
        seed ``z1_seeds[i]`` and z0 from ``z0_seeds[i]`` (batched with other visitors' requests)."""
        m = self._model(dataset)
        batcher = m.noent if noent else m.full
        if batcher is None:
            raise gr.Error(NO_NOENT.format(ds=dataset))
        noise = batcher.pipe.noise({"z1": z1_seeds, "z0": z0_seeds})
        return batcher.run(NoiseJob(noise, torch.as_tensor(labels, dtype=torch.long)))

    def _figures(self, m: Model, out: dict, captions: list[str], names: list[str]) -> list[Sample]:
        return [Sample(to_png_array(x, m.scale), c, f) for x, c, f in zip(out["image"], captions, names)]

    def grid(self, dataset, name, seed) -> str:
        """→ gallery (HTML): :data:`N` samples of one class, seeds ``seed, seed+1, ...`` (both noises
        drawn from sample ``i``'s seed)."""
        m = self._model(dataset)
        label = self._label(m, name)
        seed = validate.integer(seed, 0, SEED_MAX, "Seed")
        seeds = seeds_from(seed, N)
        out = self.samples(dataset, [label] * N, seeds, seeds)
        stem = f"sgan_{dataset}_{slug(name, 20)}"
        return gallery_html(f"{N} samples of {name}", self._figures(
            m, out, [f"seed {s}" for s in seeds], [f"{stem}_seed-{s}.png" for s in seeds]), columns=N,
            css_class="phone4", alt=f"SGAN {name},")

    def rows(self, dataset, seed) -> str:
        """→ gallery (HTML): one row per class, :data:`N` columns; column ``j`` uses seed ``seed + j`` in
        every row, so a column shows the same noise under each class."""
        m = self._model(dataset)
        seed = validate.integer(seed, 0, SEED_MAX, "Seed")
        seeds = seeds_from(seed, N)
        k = len(m.classes)
        out = self.samples(dataset, [c for c in range(k) for _ in seeds], seeds * k, seeds * k)
        caps = [f"{m.classes[c]}, seed {s}" for c in range(k) for s in seeds]
        names = [f"sgan_{dataset}_{slug(m.classes[c], 20)}_seed-{s}.png" for c in range(k) for s in seeds]
        return gallery_html(f"One row per class; column j uses seed {seed} + j in every row",
                            self._figures(m, out, caps, names), columns=N, alt="SGAN")

    def fix_z1(self, dataset, name, z1, z0) -> tuple[str, str, str]:
        """→ (full SGAN strip, no-entropy strip, how much each strip varies): class ``name`` and z1 seed
        ``z1`` fixed, z0 seeds ``z0, z0+1, ...``; strips are HTML, the last is Markdown."""
        m = self._model(dataset)
        label = self._label(m, name)
        z1 = validate.integer(z1, 0, SEED_MAX, "z1 seed")
        z0 = validate.integer(z0, 0, SEED_MAX, "z0 seed")
        z0s = seeds_from(z0, N)
        strips, spread = [], []
        for noent, title, short in ((False, "Full SGAN", "full SGAN"),
                                    (True, "Without the entropy loss (λ_ent = 0)", "without the entropy loss")):
            if noent and m.noent is None:
                strips.append(f'<div class="gallery-title">{esc(title)}</div><p>{esc(NO_NOENT.format(ds=dataset))}</p>')
                continue
            out = self.samples(dataset, [label] * N, [z1] * N, z0s, noent=noent)
            img = out["image"]  # [N, C, H, W]
            spread.append(f"{short} **{float((img - img.mean(0)).abs().mean()) * 127.5:.1f}**")
            stem = f"sgan_{dataset}{NOENT if noent else ''}_{slug(name, 20)}_z1-{z1}"
            strips.append(gallery_html(f"{title}: {name}, z1 seed {z1}", self._figures(
                m, out, [f"z0 seed {s}" for s in z0s], [f"{stem}_z0-{s}.png" for s in z0s]), columns=N,
                css_class="phone4", alt=f"{title}, {name},"))
        note = ("How much the eight images of a row differ (mean absolute difference from their average, in "
                "grey levels of 255): " + "; ".join(spread) + ".")
        return strips[0], strips[1], note

    def new_z1(self, dataset, name, z1, z0):
        """→ (z1 + 1, strips, note)."""
        z1 = (validate.integer(z1, 0, SEED_MAX, "z1 seed") + 1) % SEED_LIMIT
        return (z1, *self.fix_z1(dataset, name, z1, z0))

    def reroll_z0(self, dataset, name, z1, z0):
        """→ (z0 + :data:`N`: the next eight seeds, strips, note)."""
        z0 = (validate.integer(z0, 0, SEED_MAX, "z0 seed") + N) % SEED_LIMIT
        return (z0, *self.fix_z1(dataset, name, z1, z0))

    def pick(self, dataset, name, seed, z1, z0):
        """A class (or dataset) picked → (grid, strips, note)."""
        return (self.grid(dataset, name, seed), *self.fix_z1(dataset, name, z1, z0))

    def pick_dataset(self, dataset, seed, z1, z0):
        """A dataset picked → (its classes, the first one chosen; grid, strips, note)."""
        m = self._model(dataset)
        return (gr.update(choices=list(m.classes), value=m.classes[0]),
                *self.pick(dataset, m.classes[0], seed, z1, z0))

    def first_view(self) -> tuple[str, str, str, str]:
        """(grid, strips, note) before any click: the first dataset's first class, seeds 0."""
        if not self.models:
            return "", "", "", ""
        ds = next(iter(self.models))
        try:
            return self.pick(ds, self.models[ds].classes[0], 0, 0, 0)
        except Exception:  # the app still starts; the first click will say what is wrong
            log.exception("SGAN's first view could not be made")
            return "", "", "", ""

    def measured(self, figures: Path = FIGURES) -> str:
        """What ``bench.sgan_figures`` measured of each loaded model (its ``scores.json``): the share of
        samples whose class the evaluation classifier reads back, and the z0 spread with and without the
        entropy loss (Fig. 2c/d as a number). Models without a readable file are left out."""
        import json

        lines = []
        for ds, m in self.models.items():
            try:
                data = json.loads((Path(figures) / ds / "scores.json").read_text())
                scores, n = data["scores"], data.get("meta", {}).get("n")
                full, noent = scores["sgan"], scores.get("sgan-noent", {})
                of = f"{n:,} samples" if isinstance(n, int) and not isinstance(n, bool) else "its samples"
                line = (f"- **{DATASETS[ds]}**: the evaluation classifier reads the asked class in "
                        f"{full['cond_acc']:.0%} of {of}. Re-drawing z0 at a fixed fc3 moves each pixel "
                        f"by a standard deviation of **{full['z0_spread']:.3f}** (of a 0–1 range)")
                if "z0_spread" in noent and m.noent is not None:
                    line += f" with the entropy loss, **{noent['z0_spread']:.3f}** without it"
                lines.append(line + ".")
            except (OSError, KeyError, ValueError, TypeError):
                continue
        if not lines:
            return ""
        return ("Measured on these models (`python -m bench.sgan_figures`, `results/sgan/figures/`):\n\n"
                + "\n".join(lines))

    def quality(self, results: Path) -> str:
        """One line on how good the loaded models are: each one's table row (:data:`ROWS`) in its dataset's SGAN
        table under ``results``, and its health gates there (:func:`demo.health.quality_line`)."""
        models = []
        for ds, m in self.models.items():
            folder = health.table_folder(results, "sgan", ds)
            models += [(f"{DATASETS[ds]}: {ROWS[noent][1]}", folder, ROWS[noent][0])
                       for noent in (False, True) if not noent or m.noent is not None]
        return health.quality_line(models, HEALTH_COMMAND)

    def describe(self) -> str:
        parts = []
        for ds, m in self.models.items():
            c = m.full.pipe.cfg
            parts.append(f"`{ds}` ({c.resolution}×{c.resolution}, {c.preset} preset"
                         + (", with its no-entropy twin" if m.noent else "") + ")")
        return "Models here: " + "; ".join(parts) + "." if parts else ""


def build(ctx: Context) -> None:
    """Add the tab's components and events to the enclosing ``gr.Blocks``."""
    model = SGANDemo(ctx.checkpoints.get("sgan"))
    ctx.models["sgan"] = model
    grid0, full0, noent0, note0 = model.first_view()
    first = next(iter(model.models.values()), None)
    events = dict(concurrency_limit=ctx.max_visitors, concurrency_id="sgan")

    with gr.Tab("SGAN"):
        gr.Markdown(INTRO + ("\n\n" + model.describe() if model.models else "")
                    + ("\n\n" + model.measured() if model.models else ""))
        if model.models:
            gr.Markdown(model.quality(ctx.results), elem_id="sgan-quality")
        if model.error or model.problems:
            gr.Markdown("\n\n".join(f"⚠️ {m}" for m in [model.error, *model.problems] if m), elem_id="sgan-notice")
        with gr.Row():
            dataset = gr.Dropdown(model.datasets, value=first.dataset if first else None, label="Dataset",
                                  elem_id="sgan-dataset", interactive=bool(first),
                                  info="Each dataset has its own model, trained on its images.")
            name = gr.Dropdown(list(first.classes) if first else [], value=first.classes[0] if first else None,
                               label="Class (y)", elem_id="sgan-class", interactive=bool(first))
            seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, maximum=SEED_MAX,
                             info="Sample i uses seed + i for both z1 and z0.")
        with gr.Row():
            btn = gr.Button("Samples", variant="primary", elem_id="sgan-samples")
            rows_btn = gr.Button("One row per class", elem_id="sgan-rows")
        grid = gr.HTML(grid0, elem_id="sgan-grid", js_on_load=SAVE_JS, min_height=60)
        btn.click(safe(model.grid), [dataset, name, seed], [grid], api_name="sgan_samples", **events)
        seed.submit(safe(model.grid), [dataset, name, seed], [grid], api_visibility="private", **events)
        rows_btn.click(safe(model.rows), [dataset, seed], [grid], api_name="sgan_rows", **events)

        gr.Markdown(FIX_Z1)
        with gr.Row():
            z1 = gr.Number(value=0, precision=0, label="z1 seed", minimum=0, maximum=SEED_MAX,
                           info="The coarse content (G1 → fc3), the same for every image of both rows.")
            z0 = gr.Number(value=0, precision=0, label="z0 seed", minimum=0, maximum=SEED_MAX,
                           info="Image i uses z0 seed + i: the low-level detail (G0).")
        with gr.Row():
            new_z1 = gr.Button("New z1", elem_id="sgan-new-z1")
            reroll = gr.Button("Re-roll z0", elem_id="sgan-reroll-z0")
            fix = gr.Button("Show these seeds", elem_id="sgan-fix-z1")
        with gr.Row(elem_classes="stage-row"):  # side by side; stacked on a phone (min widths)
            with gr.Column(min_width=320):
                full = gr.HTML(full0, elem_id="sgan-full-strip", js_on_load=SAVE_JS, min_height=60)
            with gr.Column(min_width=320):
                noent = gr.HTML(noent0, elem_id="sgan-noent-strip", js_on_load=SAVE_JS, min_height=60)
        note = gr.Markdown(note0, elem_id="sgan-spread")
        strips = [full, noent, note]
        fix.click(safe(model.fix_z1), [dataset, name, z1, z0], strips, api_name="sgan_fix_z1", **events)
        for box in (z1, z0):
            box.submit(safe(model.fix_z1), [dataset, name, z1, z0], strips, api_visibility="private", **events)
        new_z1.click(safe(model.new_z1), [dataset, name, z1, z0], [z1, *strips], api_visibility="private", **events)
        reroll.click(safe(model.reroll_z0), [dataset, name, z1, z0], [z0, *strips], api_visibility="private",
                     **events)
        name.input(safe(model.pick), [dataset, name, seed, z1, z0], [grid, *strips], api_visibility="private",
                   **events)
        dataset.input(safe(model.pick_dataset), [dataset, seed, z1, z0], [name, grid, *strips],
                      api_visibility="private", **events)
        gr.Markdown(f"Paper: Huang, Li, Poursaeed, Hopcroft, Belongie, *Stacked Generative Adversarial Networks*, "
                    f"CVPR 2017, [arXiv 1612.04357]({PAPER}).")


TAB = Tab("SGAN", build, model=True, order=20)

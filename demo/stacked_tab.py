"""Stacked-study tab (Deshmukh, Franz & Tu, "Exploring Stacked Generative Adversarial Networks"; seed 003,
issue #18; not Huang et al.'s SGAN): pick a layer type (dense, conv, deep-conv) and a mode (a single GAN,
a stack with Stage-I frozen, a stack trained end to end) and see the shipped model's samples, Stage-I
beside Stage-II; the three modes of one layer type side by side at the same seeds; and one paragraph on
the benchmark's measured verdicts (``results/stacked/verdicts.csv``), or the plain statement that no table
has been run yet.

The models are found on disk, by name, under one folder (:data:`DEFAULT_ROOT`, or
``$STACKED_DEMO_CHECKPOINTS``, or ``ctx.checkpoints["stacked"]``): ``stacked-<layer>-<mode>`` for each of
the nine combinations (``scripts/ship_stacked.sh`` trains them). Missing ones are skipped; with none, the
tab says which script makes them. The tab imports no model code: what a checkpoint is, it reads from its
config (a folder whose config is another layer type or mode is refused), and the layer types and modes it
offers are those it has words for (:data:`LAYER_NAMES`, :data:`MODE_NAMES`), then any other a folder names.

The models are unconditional: a request is only its noise z, one seed per sample. Every request goes
through a :class:`NoiseBatcher` (the serving queue of :mod:`demo.serving`), so visitors who click at the
same moment share one forward pass and each gets the images it would have got alone."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from html import escape as esc
from pathlib import Path

import gradio as gr
import pandas as pd
import torch

from core.pipeline import Pipeline
from demo import health, validate
from demo.results_tab import METRICS, VERDICT_WORDS
from demo.serving import (SAVE_JS, SEED_LIMIT, NoiseBatcher, NoiseJob, Sample, gallery_html, safe, seeds_from,
                          to_png_array)
from demo.tabs import Context, Tab

log = logging.getLogger("demo")

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "results" / "checkpoints"  # read at build time
RESULTS = "stacked"  # the table's folder under results/ (bench.ablations --paper stacked)
# the tab's words for the layer types and modes of the study (the table's order); a layer type or mode it has
# no words for is offered under its own name when a folder on disk holds it
LAYER_NAMES = {"dense": "dense", "conv": "convolutional", "deepconv": "deep-convolutional"}
MODE_NAMES = {"single": "single GAN", "stacked": "stacked, Stage-I frozen",
              "full": "stacked, full backpropagation"}
N = 8  # samples per request
DISPLAY = 128  # about this many pixels per image side (enlarged by whole pixels)
SEED_MAX = SEED_LIMIT - 1
TABLE_COMMAND = "python -m bench.ablations --paper stacked --preset quick"
HEALTH_COMMAND = "python -m bench.ablations --paper stacked --health"

# One line each: what makes the models this tab looks for.
MISSING = ("No model of the stacked study is on disk yet, so this tab cannot make images. "
           "`scripts/ship_stacked.sh` trains the nine quick models (dense, conv and deep-conv; single, stacked and "
           "stacked with full backpropagation) and writes them to `results/checkpoints/stacked-<layer>-<mode>`.")
NOT_ON_DISK = ("The {layer_name} {mode_name} model is not on disk: `scripts/ship_stacked.sh {layer}` trains the "
               "{layer_name} models into `results/checkpoints/stacked-{layer}-<mode>`.")
NO_TABLE = ("**Measured verdicts:** no table has been run yet, so nothing here is measured: the samples are the "
            f"only evidence, as in the paper. `{TABLE_COMMAND}` runs the nine rows over several training seeds "
            "and writes `results/stacked/`; this paragraph then sums up its verdicts.")
UNREADABLE = ("**Measured verdicts:** the table's verdict file is there but could not be read (the server log "
              "says why).")

INTRO = """Does a two-stage stack beat one GAN at the same final resolution? The stacked study of
Deshmukh, Franz & Tu (Indiana University) asked this for three **layer types**, with no text or labels:
the GANs draw from noise alone.

- **dense**: fully connected layers; **conv**: 3×3 convolutions around one up-sampling step;
  **deep-conv**: a DCGAN-like stack of transposed convolutions.
- **single GAN**: one generator draws the final image from the noise z.
- **stacked, Stage-I frozen**: Stage-I draws a half-size image from z and is trained first, then frozen;
  Stage-II takes that image (and **no noise of its own**) and redraws it at full size.
- **stacked, full backpropagation**: the same stack, but Stage-II's loss also trains Stage-I.

Pick a layer type and a mode and press **Samples**. The same seed always gives the same images."""

COMPARE = """### The three modes of one layer type, at the same seeds
Column j of every row uses noise seed *seed + j*. The frozen and the fully back-propagated stack started
from one and the same Stage-I, so their Stage-I rows began as the same images: where they differ now,
Stage-II's loss moved Stage-I. The single GAN is a separate network, so its row is not the same picture."""


def _load(path: Path, layer: str, mode: str) -> Pipeline:
    """The stacked-study model at ``path``; refuses one whose config is not the ``layer``/``mode`` its
    folder name says (a visitor must never see a conv model under "dense")."""
    pipe = Pipeline.from_checkpoint(path)
    if pipe.cfg.model_name != "stacked":
        raise ValueError(f"{pipe.cfg.model_name} at {path} is not a model of the stacked study")
    got = (pipe.cfg.model.layer, pipe.cfg.model.mode)
    if got != (layer, mode):
        raise ValueError(f"{path} holds the {got} model, not ({layer!r}, {mode!r})")
    return pipe


def _layer_name(layer: str) -> str:
    return LAYER_NAMES.get(layer, layer)


def _mode_name(mode: str) -> str:
    return MODE_NAMES.get(mode, mode)


def _not_on_disk(layer: str, mode: str) -> str:
    return NOT_ON_DISK.format(layer=layer, mode=mode, layer_name=_layer_name(layer), mode_name=_mode_name(mode))


def on_offer(root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(layer types, modes) the tab offers: those of :data:`LAYER_NAMES` and :data:`MODE_NAMES`, in their order,
    then any other that a ``stacked-<layer>-<mode>`` folder under ``root`` names (alphabetically)."""
    named = [p.name.split("-")[1:] for p in root.glob("stacked-*-*") if p.name.count("-") == 2]
    layers = tuple(LAYER_NAMES) + tuple(sorted({n[0] for n in named} - set(LAYER_NAMES)))
    modes = tuple(MODE_NAMES) + tuple(sorted({n[1] for n in named} - set(MODE_NAMES)))
    return layers, modes


def _signed(x: float) -> str:
    """``+1.23`` / ``-1.23``; a value that rounds to zero is ``+0.00`` (never ``-0.00``)."""
    return f"{x:+.2f}".replace("-0.00", "+0.00")


def verdict_summary(results: str | Path) -> str:
    """One paragraph (Markdown) on the measured verdicts in ``results/stacked/verdicts.csv`` as
    ``bench.report`` writes it; :data:`NO_TABLE` when there is none."""
    folder = Path(results) / RESULTS
    f = folder / "verdicts.csv"
    if not f.is_file():
        return NO_TABLE
    try:
        v = pd.read_csv(f)
        missing = {"claim", "text", "metric", "effect", "ci_low", "ci_high", "n", "verdict"} - set(v.columns)
        if missing:
            raise ValueError(f"{f} lacks the columns {sorted(missing)}")
        runs = pd.read_csv(folder / "runs.csv") if (folder / "runs.csv").is_file() else pd.DataFrame()
    except Exception:
        log.exception("the stacked study's verdicts could not be read")
        return UNREADABLE
    if v.empty:
        return NO_TABLE
    setup = []
    if "preset" in runs:
        setup.append("`" + ", ".join(sorted(runs["preset"].dropna().astype(str).unique())) + "` preset")
    if "seed" in runs:
        setup.append(f"{runs['seed'].nunique()} training seeds")
    counts = v["verdict"].value_counts()
    kinds = [k for k in VERDICT_WORDS if k in counts] + [k for k in counts.index if k not in VERDICT_WORDS]
    head = (f"**Measured verdicts** ({', '.join(setup) + '; ' if setup else ''}from `results/stacked/`): of the "
            f"{len(v)} claims, " + ", ".join(f"{counts[k]} {k}" for k in kinds) + ".")
    sentences = [head]
    for _, r in v.iterrows():
        name = METRICS.get(r["metric"], (str(r["metric"]),))[0]
        if r["effect"] == r["effect"]:  # not NaN
            what = (f"{name} difference in the claim's favour {_signed(r['effect'])}, 95% interval "
                    f"{_signed(r['ci_low'])} to {_signed(r['ci_high'])}, {int(r['n'])} seeds")
        else:
            what = "not measured"
        sentences.append(f"{str(r['text']).rstrip('.')}: **{r['verdict']}** ({what}).")
    if v["claim"].astype(str).str.endswith("no-gain").any():
        sentences.append("For the claims that stacking or full backpropagation does *not* help the dense GAN (judged "
                         "as the reverse comparison), *absent* shows no gain of a size that matters (what the paper "
                         "says), *inconclusive* is consistent with no gain but does not show it, *reproduced* means "
                         "it made the images significantly worse and *contradicted* means it did help.")
    sentences += [f"*{k.capitalize()}*: {VERDICT_WORDS[k]}." for k in VERDICT_WORDS if k in counts]
    return " ".join(sentences)


def healthy_rows(health_csv: Path) -> set[str]:
    """The table's rows whose every gate passed on val (``bench.health``'s ``health.csv``: row, gate, ...,
    passed); empty when the file is missing or unreadable."""
    try:
        h = pd.read_csv(health_csv)
        passed = h["passed"].astype(str).str.lower() == "true"
    except (OSError, KeyError, ValueError, pd.errors.ParserError):
        return set()
    return {str(r) for r, ok in passed.groupby(h["row"]).all().items() if ok}


class StackedDemo:
    """The models found under ``root`` (loaded once, at start-up) and the tab's actions.

    Args:
        root: folder holding ``stacked-<layer>-<mode>`` (checkpoint or run directories); default:
            ``$STACKED_DEMO_CHECKPOINTS``, else :data:`DEFAULT_ROOT`.
    """

    def __init__(self, root: str | Path | None = None, health: str | Path | None = None):
        root = Path(root or os.environ.get("STACKED_DEMO_CHECKPOINTS") or DEFAULT_ROOT)
        # the table's health gates on val (bench.ablations --health): the first view is a model that passes them
        self.healthy = healthy_rows(Path(health) if health else DEFAULT_ROOT.parent / RESULTS / "health.csv")
        self.models: dict[tuple[str, str], NoiseBatcher] = {}
        self.problems: list[str] = []  # one line per model on disk that could not be loaded
        self.layers, self.modes = on_offer(root)
        for layer in self.layers:
            for mode in self.modes:
                path = root / f"stacked-{layer}-{mode}"
                if not path.exists():
                    continue
                try:
                    self.models[layer, mode] = NoiseBatcher(_load(path, layer, mode))
                except Exception:  # the app must still start: the other models and tabs work without it
                    log.exception("stacked-study checkpoint %s could not be loaded", path)
                    self.problems.append(f"The {_layer_name(layer)} {_mode_name(mode)} model could not be loaded "
                                         "(the server log says why).")

    @property
    def error(self) -> str | None:
        return None if self.models else MISSING

    @property
    def first(self) -> tuple[str, str] | None:
        """The (layer, mode) shown before any click: the first on disk, in the table's order, that passes every
        health gate of its row (``results/stacked/health.csv``); the first on disk when none is known healthy."""
        healthy = [k for k in self.models if f"{k[1]}-{k[0]}" in self.healthy]
        return next(iter(healthy or self.models), None)

    def _batcher(self, layer, mode) -> NoiseBatcher:
        if not self.models:
            raise gr.Error(MISSING)
        if layer not in self.layers:
            raise gr.Error(f"Pick a layer type from {', '.join(self.layers)}; got {layer!r}.")
        if mode not in self.modes:
            raise gr.Error(f"Pick a mode from {', '.join(self.modes)}; got {mode!r}.")
        if (layer, mode) not in self.models:
            raise gr.Error(_not_on_disk(layer, mode))
        return self.models[layer, mode]

    # ------------------------------------------------------------------------------------ generation
    def samples(self, layer: str, mode: str, seeds: list[int]) -> dict[str, torch.Tensor]:
        """``{"image": [n, C, R, R]}`` and, for a stack, ``"stage1"`` ``[n, C, R/2, R/2]``: sample ``i`` from
        the noise of seed ``seeds[i]`` (batched with other visitors' requests)."""
        batcher = self._batcher(layer, mode)
        return batcher.run(NoiseJob(batcher.pipe.noise(seeds)))

    @staticmethod
    def _figures(images: torch.Tensor, seeds: list[int], stem: str) -> list[Sample]:
        scale = max(1, DISPLAY // images.shape[-1])
        return [Sample(to_png_array(x, scale), f"seed {s}", f"{stem}_seed-{s}.png") for x, s in zip(images, seeds)]

    def _stages(self, layer: str, mode: str, seeds: list[int], columns: int) -> tuple[str, str]:
        """(Stage-I HTML, final-image HTML) of one model at ``seeds``; a single GAN's Stage-I part is a
        short note (it has only the one image)."""
        out = self.samples(layer, mode, seeds)
        res = out["image"].shape[-1]
        stem = f"stacked_{layer}-{mode}"
        by = f"by the {_layer_name(layer)} {_mode_name(mode)},"
        if mode == "single":
            note = (f'<div class="gallery-title">Single GAN: no Stage-I</div><p>{esc(_layer_name(layer).capitalize())} '
                    f"single GAN: one generator draws the {res}×{res} image straight from the noise, so there is "
                    "only the one image.</p>")
            final = gallery_html(f"Single GAN: {res}×{res}", self._figures(out["image"], seeds, stem), columns,
                                 f"{res}×{res} image {by}", css_class="phone4")
            return note, final
        low = out["stage1"].shape[-1]
        how = "frozen while Stage-II trained" if mode == "stacked" else "trained on by Stage-II's loss"
        one = gallery_html(f"Stage-I: {low}×{low} from the noise ({how})",
                           self._figures(out["stage1"], seeds, stem + "_stage1"), columns,
                           f"Stage-I {low}×{low} image {by}", css_class="phone4")
        two = gallery_html(f"Stage-II: {res}×{res} from the Stage-I image alone",
                           self._figures(out["image"], seeds, stem + "_stage2"), columns,
                           f"Stage-II {res}×{res} image {by}", css_class="phone4")
        return one, two

    def generate(self, layer, mode, seed) -> tuple[str, str]:
        """→ (Stage-I gallery, final-image gallery), both HTML: :data:`N` samples at seeds ``seed, seed+1,
        ...`` (wrapping past 2**31 − 1 to 0)."""
        self._batcher(layer, mode)
        seed = validate.integer(seed, 0, SEED_MAX, "Seed")
        return self._stages(layer, mode, seeds_from(seed, N), columns=4)

    def next_seeds(self, layer, mode, seed) -> tuple[int, str, str]:
        """→ (seed + :data:`N`, wrapped; the galleries of those seeds)."""
        seed = (validate.integer(seed, 0, SEED_MAX, "Seed") + N) % SEED_LIMIT
        return (seed, *self.generate(layer, mode, seed))

    def compare(self, layer, seed) -> str:
        """→ HTML: every mode of ``layer`` on disk, one row of :data:`N` images per stage, at the same seeds;
        a line for each mode not on disk."""
        if not self.models:
            raise gr.Error(MISSING)
        if layer not in self.layers:
            raise gr.Error(f"Pick a layer type from {', '.join(self.layers)}; got {layer!r}.")
        seed = validate.integer(seed, 0, SEED_MAX, "Seed")
        seeds = seeds_from(seed, N)
        parts = []
        for mode in self.modes:
            name = f"{_layer_name(layer).capitalize()}, {_mode_name(mode)}"
            if (layer, mode) not in self.models:
                parts.append(f'<div class="gallery-title">{esc(name)}</div><p>{esc(_not_on_disk(layer, mode))}</p>')
                continue
            one, two = self._stages(layer, mode, seeds, columns=N)
            parts += [f'<h4 class="compare-mode">{esc(name)}</h4>', two if mode == "single" else one + two]
        return "".join(parts)

    def pick(self, layer, mode, seed) -> tuple[str, str, str]:
        """A layer type or mode picked → (Stage-I gallery, final gallery, the comparison of its modes)."""
        return (*self.generate(layer, mode, seed), self.compare(layer, seed))

    def first_view(self) -> tuple[str, str, str]:
        """(Stage-I, final, comparison) before any click: the first model on disk, seeds from 0."""
        if self.first is None:
            return "", "", ""
        try:
            return self.pick(*self.first, 0)
        except Exception:  # the app still starts; the first click will say what is wrong
            log.exception("the stacked study's first view could not be made")
            return "", "", ""

    def quality(self, results: Path) -> str:
        """One line on how good the loaded models are: each one's row of the stacked table under ``results``
        (``<mode>-<layer>``, the row it is the seed-0 cell of) and its health gates (:mod:`demo.health`)."""
        folder = health.table_folder(results, RESULTS) or Path(results) / RESULTS
        return health.quality_line([(f"{_layer_name(layer)}, {_mode_name(mode)}", folder, f"{mode}-{layer}")
                                    for layer, mode in self.models], HEALTH_COMMAND)

    def describe(self) -> str:
        if not self.models:
            return ""
        parts = []
        for layer in self.layers:
            modes = [m for m in self.modes if (layer, m) in self.models]
            if modes:
                c = self.models[layer, modes[0]].pipe.cfg
                parts.append(f"{_layer_name(layer)} ({', '.join(modes)}; `{c.dataset}`, {c.resolution}×"
                             f"{c.resolution}, {c.preset} preset)")
        return "Models here: " + "; ".join(parts) + "."


def build(ctx: Context) -> None:
    """Add the tab's components and events to the enclosing ``gr.Blocks``."""
    model = StackedDemo(ctx.checkpoints.get("stacked"))
    ctx.models["stacked"] = model
    one0, two0, cmp0 = model.first_view()
    layer0, mode0 = model.first or (model.layers[-1], "stacked")
    events = dict(concurrency_limit=ctx.max_visitors, concurrency_id="stacked")
    live = bool(model.models)

    with gr.Tab("Stacked vs single"):
        gr.Markdown(INTRO + ("\n\n" + model.describe() if live else ""))
        if live:
            gr.Markdown(model.quality(ctx.results), elem_id="stacked-quality")
        if model.error or model.problems:
            gr.Markdown("\n\n".join(f"⚠️ {m}" for m in [model.error, *model.problems] if m),
                        elem_id="stacked-notice")
        with gr.Row():
            layer = gr.Dropdown([(_layer_name(k), k) for k in model.layers], value=layer0, label="Layer type",
                                elem_id="stacked-layer", interactive=live,
                                info="What the generators and discriminators are built of.")
            mode = gr.Radio([(_mode_name(k), k) for k in model.modes], value=mode0, label="Mode",
                            elem_id="stacked-mode", interactive=live, info="How the final resolution is reached.")
            seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, maximum=SEED_MAX,
                             info="Sample i uses the noise of seed + i.")
        with gr.Row():
            btn = gr.Button("Samples", variant="primary", elem_id="stacked-samples")
            nxt = gr.Button(f"Next {N} seeds", elem_id="stacked-next")
        with gr.Row(elem_classes="stage-row"):  # side by side; stacked on a phone (min widths)
            with gr.Column(min_width=320):
                g1 = gr.HTML(one0, elem_id="stacked-stage1", js_on_load=SAVE_JS, min_height=60)
            with gr.Column(min_width=320):
                g2 = gr.HTML(two0, elem_id="stacked-final", js_on_load=SAVE_JS, min_height=60)
        gr.Markdown(COMPARE)
        cmp_btn = gr.Button("Compare the modes", elem_id="stacked-compare-btn")
        cmp = gr.HTML(cmp0, elem_id="stacked-compare", js_on_load=SAVE_JS, min_height=60)
        gr.Markdown(verdict_summary(ctx.results), elem_id="stacked-verdicts")

        btn.click(safe(model.generate), [layer, mode, seed], [g1, g2], api_name="stacked_samples", **events)
        seed.submit(safe(model.generate), [layer, mode, seed], [g1, g2], api_visibility="private", **events)
        nxt.click(safe(model.next_seeds), [layer, mode, seed], [seed, g1, g2], api_visibility="private", **events)
        cmp_btn.click(safe(model.compare), [layer, seed], [cmp], api_name="stacked_compare", **events)
        for box in (layer, mode):
            box.input(safe(model.pick), [layer, mode, seed], [g1, g2, cmp], api_visibility="private", **events)
        gr.Markdown("Paper: Deshmukh, Franz, Tu, *Exploring Stacked Generative Adversarial Networks* (a student "
                    "study, Indiana University). Code: `core/models/stacked.py`; table: `bench/tables/stacked.py`; "
                    "notes: `docs/stacked.md`.")


TAB = Tab("Stacked vs single", build, model=True, order=40)

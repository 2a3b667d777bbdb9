"""Assemble the demo from its tabs: every :class:`demo.tabs.Tab` that :func:`tabs` finds (the ``TAB`` of each
``demo/*_tab.py`` module, of each extension's ``demo`` package, :mod:`core.discovery`, and those given to
:func:`register_tab`), in their declared ``order``. No list here names a tab or a model family."""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no outbound connections
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import logging  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Mapping  # noqa: E402

import gradio as gr  # noqa: E402

from core.discovery import discover  # noqa: E402
from demo.files import SampleSheets  # noqa: E402
from demo.serving import clear_on_error, defer_images, quiet_input_checks  # noqa: E402
from demo.sharing import OpenGraph  # noqa: E402
from demo.tabs import Context, Tab  # noqa: E402

DEFAULT_RESULTS = Path(__file__).resolve().parent.parent / "results"  # the Results tab's folder by default
_REGISTERED: list[Tab] = []  # tabs given to register_tab (tests, code that builds its own app)
MAX_VISITORS = 16  # requests per model in flight at once; they share batched forward passes
QUEUE_SIZE = 256  # requests waiting at most; more get "the queue is full"
# Gradio keeps each session's last outputs (here up to ~0.2 MB of inline images) until this many
# newer sessions push it out: this bounds that memory (the default, 10,000, would allow ~2 GB).
SESSIONS = 500
# The page's Open Graph tags and preview image (demo.sharing), as Starlette's ``Middleware(OpenGraph)`` unpacks:
# (class, args, kwargs). A plain tuple: the demo imports nothing from starlette (not one of requirements.txt's).
OPEN_GRAPH = (OpenGraph, (), {})

CSS = """
/* Image grids (demo.serving.gallery_html): --columns per row, each image as wide as its cell. */
.samples { display: grid; grid-template-columns: repeat(var(--columns), minmax(0, 1fr)); gap: 8px; }
.samples figure { margin: 0; min-width: 0; }
/* Generated images are a few dozen pixels: enlarge by whole pixels, never blur. */
.samples img { display: block; width: 100%; height: auto; image-rendering: pixelated; border-radius: 4px; }
.samples figcaption { display: flex; justify-content: space-between; gap: 4px; font-size: 0.8rem;
                      line-height: 1.3; margin-top: 2px; overflow-wrap: break-word; min-width: 0; }
.samples a.save { text-decoration: none; font-weight: bold; padding: 0 4px; }
.gallery-title { font-weight: 600; margin: 4px 0 6px; }
/* Phone: the Stage-I and Stage-II galleries stack (each column has a min width), every sample shows. */
.stage-row { flex-wrap: wrap; }
/* Phone: the training strip (images with long captions) two per row. */
@media (max-width: 640px) { .samples.strip { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
/* Phone: eight-image strips (S²-GAN, SGAN, the stacked study) four per row, each about 80 px wide. */
@media (max-width: 640px) { .samples.phone4 { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
/* A tab's galleries before it is first opened (demo.serving.defer_images): the space they will take, a quiet line. */
.loading { min-height: 120px; margin: 0; padding: 8px 0; color: var(--body-text-color-subdued); }
/* Phone: the StackGAN tab's images right under the caption and Generate, its settings after them. */
@media (max-width: 640px) {
  #stackgan-top { flex-wrap: wrap; }
  #stackgan-top > #stackgan-settings { order: 3; }
  #stackgan-top > #stackgan-images { order: 2; }
}
#stackgan-images { flex-basis: 100% !important; min-width: 100% !important; }
/* Results tables: compact, and a wide one scrolls inside its box instead of pushing the page. */
.results-table table { font-size: 0.85rem; }
.results-table th, .results-table td { padding: 4px 6px !important; }
.results-table { overflow-x: auto; }
#results-table td:nth-child(n+3) { white-space: nowrap; }
/* The forest plot: the wide one on a desktop, the narrow, tall one (bench.index) on a phone, each full width. */
@media (max-width: 640px) { .forest-wide { display: none !important; } }
@media (min-width: 641px) { .forest-phone { display: none !important; } }
.forest-phone img { width: 100%; height: auto; }
/* Sample sheets (demo.results_tab.sheets_html): as many small ones per row as fit at 280 px; one on a phone. */
.sheets { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 12px; }
.sheets figure { margin: 0; min-width: 0; }
.sheets img { display: block; width: 100%; height: auto; border-radius: 4px; background: #0001; }
.sheets figcaption { font-size: 0.8rem; line-height: 1.3; margin-top: 2px; overflow-wrap: anywhere; }
"""


def register_tab(tab: Tab) -> Tab:
    """Add ``tab`` to the tabs :func:`tabs` finds, for this process (a tab kept outside ``demo/``)."""
    _REGISTERED.append(tab)
    return tab


def tabs() -> tuple[Tab, ...]:
    """Every tab, in its declared ``order`` (then by title): the ``TAB`` of each ``demo/*_tab.py`` module and of
    each extension's ``demo/*_tab.py`` (:mod:`core.discovery`), then those given to :func:`register_tab`."""
    found = [m.TAB for m in discover("demo", "demo", suffix="_tab") if isinstance(getattr(m, "TAB", None), Tab)]
    unique = list(dict.fromkeys(found + _REGISTERED))
    return tuple(sorted(unique, key=lambda t: (t.order, t.title)))


def build_app(checkpoints: Mapping[str, str | Path | None] | None = None, results: str | Path | None = None
              ) -> gr.Blocks:
    """The whole app; models load here, once.

    Args:
        checkpoints: each model tab's name for its models → what it serves: ``"stackgan"`` a StackGAN
            checkpoint; ``"sgan"``, ``"s2gan"``, ``"stacked"`` the folder holding theirs (see each tab's module).
            A tab missing here serves its default, the shipped ``results/checkpoints``.
        results: the ``results/`` folder the Results tab reads (default: the repository's).
    """
    found = tabs()
    ctx = Context(checkpoints=dict(checkpoints or {}), results=Path(results or DEFAULT_RESULTS),
                  max_visitors=MAX_VISITORS)
    with gr.Blocks(title="Stacked GANs") as app:
        gr.Markdown("# Stacked GANs\nStackGAN, SGAN and S²-GAN in PyTorch, running on a CPU, offline. "
                    f"Try {_tried(found)}; the Results tab shows how the papers' ablation tables "
                    "came out when rerun with several training seeds.")
        # "wrap": on a phone the tab labels take two lines instead of hiding behind a "⋯" menu
        with gr.Tabs(overflow_behavior="wrap", elem_id="tabs"):
            for tab in found:
                tab.build(ctx)
    defer_images(app)  # the first page carries the first tab's images only; the others' come as their tab opens
    clear_on_error(app)  # a failed event blanks its galleries: no old images under the error
    quiet_input_checks(app)  # Gradio's own input checks: one line in the log each, as the handlers' are
    app.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    app.demo_context = ctx  # for tests and checks: the loaded models
    return app


def _tried(found: tuple[Tab, ...]) -> str:
    """``StackGAN in its tab``, ``StackGAN, SGAN and S²-GAN in their tabs``: the models a visitor can try."""
    models = [t.title for t in found if t.model]
    if not models:
        return "the models"
    names = models[0] if len(models) == 1 else ", ".join(models[:-1]) + " and " + models[-1]
    return names + (" in its tab" if len(models) == 1 else " in their tabs")


def launch(app: gr.Blocks, port: int | None = None, host: str = "127.0.0.1", block: bool = True,
           sessions: int = SESSIONS):
    """Start the server. ``show_error=False``: a visitor sees the messages written for them
    (``gr.Error``, including Gradio's own input checks) and never a raw exception's text.
    ``sessions``: visitors' sessions Gradio remembers (see :data:`SESSIONS`). The page carries the
    demo's own Open Graph tags and preview image (:class:`demo.sharing.OpenGraph`); it is rendered by
    this Python server (``ssr_mode=False``, whatever ``GRADIO_SSR_MODE`` says), so that they are in it. The
    Results tab's sample sheets are served from the app's results folder (:class:`demo.files.SampleSheets`)."""
    ctx = getattr(app, "demo_context", None)
    sheets = (SampleSheets, (ctx.results if ctx is not None else DEFAULT_RESULTS,), {})
    return app.launch(server_name=host, server_port=port, show_error=False, quiet=not block,
                      prevent_thread_lock=not block, css=CSS, state_session_capacity=sessions,
                      ssr_mode=False, app_kwargs={"middleware": [OPEN_GRAPH, sheets]})


def log_to_stderr(level: int = logging.INFO) -> None:
    """The demo's log (logger ``demo``) on stderr, from ``level`` up: one line per visitor's input error
    (INFO), a traceback per unexpected failure (ERROR). For the server (``app.py``); tests use caplog."""
    log = logging.getLogger("demo")
    log.setLevel(level)
    if not any(getattr(h, "demo_stderr", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.demo_stderr = True
        log.addHandler(handler)
        log.propagate = False  # not twice, should the root logger print too

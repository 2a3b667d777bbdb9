"""Serving machinery shared by every model tab: one forward pass for many visitors, images that
travel inside the answer, bounded memory, and errors a visitor may read.

- :class:`Batcher` groups the requests that arrive while the model is busy into one
  ``Pipeline.generate`` call (dynamic batching). Sample ``i`` of a request depends only on its
  own condition and seed (``Pipeline`` seeds each sample's noise alone, BatchNorm is in eval
  mode), so a request gets the same images in a batch of sixteen visitors as alone (up to float
  rounding, ~1e-6: a batch of one may run another convolution kernel than a batch of many).
- :func:`gallery_html` puts a request's images into its answer as ``data:`` URIs. No image file
  is written, so there is no shared folder to race on and no file cache to grow; and a request
  is one message instead of one message plus a download per image, which on a 2-core CPU is
  most of the cost of serving sixteen visitors at once (measured: ``tests/demo/test_bench_latency.py``).
- :class:`Memo` keeps caption embeddings in memory, at most ``size`` of them.
- :func:`safe` turns any unexpected exception into one plain sentence for the visitor (the
  details go to the server log): no server path or traceback ever reaches a browser. An input error
  (a ``gr.Error`` written for the visitor) is one line in the log, not a traceback; so is one of
  Gradio's own input checks (:func:`quiet_input_checks`).
- :func:`clear_on_error` blanks an event's images when it fails, so that the old images do not stay
  up under the error as if they answered the new input.
- :func:`defer_images` keeps the first page small: a tab's first images reach the page when a visitor
  opens that tab, not with the page (only the first tab's come with it).
"""
from __future__ import annotations

import base64
import collections
import functools
import io
import logging
import queue
import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from html import escape as esc
from typing import Callable, Sequence

import gradio as gr
import numpy as np
import torch
from PIL import Image

from core.cache import LRU
from core.data.base import image_to_uint8
from core.pipeline import Pipeline

log = logging.getLogger("demo")

SEED_LIMIT = 2**31  # seeds are 0 .. 2**31 - 1 (the seed box's range); sample i uses (seed + i) mod this
GENERIC_ERROR = "Something went wrong while making the images. Please try again in a moment."


def seeds_from(start: int, n: int) -> list[int]:
    """``n`` consecutive seeds from ``start``, wrapping past 2**31 − 1 to 0: every label can be typed back."""
    return [(start + i) % SEED_LIMIT for i in range(n)]


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe ASCII slug of a caption (``"A red star!"`` → ``a-red-star``)."""
    s = "-".join(re.findall(r"[a-z0-9]+", text.lower()))[:limit].strip("-")
    return s or "caption"


def one_line(text, limit: int = 300) -> str:
    """``text`` on one line (newlines and runs of spaces become one space), cut to ``limit`` characters:
    a visitor's input, echoed in a message, cannot write lines of its own into the log or flood it."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def safe(fn: Callable) -> Callable:
    """Wrap an event handler. A ``gr.Error`` is an input error written for the visitor: it passes through,
    and the log gets one line (``input error in <handler>: <message>``, at INFO), not a traceback.
    Anything else is logged with its traceback and replaced by :data:`GENERIC_ERROR`. Either way Gradio
    is told not to print a traceback of its own (``print_exception=False``). The wrapper is marked
    (``wrapper.safe = True``): :func:`clear_on_error` finds the events it serves."""
    name = getattr(fn, "__qualname__", repr(fn))

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as e:
            input_error(name, e)
            raise
        except Exception:
            log.exception("%s failed", name)
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None

    wrapper.safe = True
    return wrapper


def input_error(where: str, error: gr.Error) -> None:
    """An input error goes to the log as one line, ``input error in <where>: <message>`` (INFO), and Gradio
    is told to print no traceback of it (the visitor reads the message; nothing broke)."""
    log.info("input error in %s: %s", where, one_line(error.message))
    error.print_exception = False


# What an output shows once its event failed: nothing (a gallery, a notice) instead of the last answer.
BLANK = {gr.HTML: "", gr.Markdown: "", gr.Image: None}


def clear_on_error(app: gr.Blocks) -> int:
    """After any event served by :func:`safe` fails (an input error, Gradio's own input checks, an
    unexpected error), blank its image and text outputs (:data:`BLANK`: galleries, notices), so that the
    page does not show the last answer's images under the error as if they answered the new input; the
    error's message is shown as it is (Gradio's toast). Inputs among the outputs (a seed box an event
    steps, a dropdown it sets) keep their values. Call once, after every tab is built; → events covered.

    It is one more event per event, run in the browser after a failure (``trigger_only_on_failure``),
    private (not in the API); an API client just gets the error, as before."""
    added = 0
    with app:
        for dep in list(app.fns.values()):
            outs = [o for o in dep.outputs if type(o) in BLANK]
            if not getattr(dep.fn, "safe", False) or not outs or dep.trigger_only_on_failure:
                continue
            # what ``event.failure(...)`` does, for an event whose Dependency object is gone
            failure = gr.events.EventListener("failure", trigger_after=dep._id, trigger_only_on_success=False,
                                              trigger_only_on_failure=True, has_trigger=False)
            failure.listener(None, _blanks([BLANK[type(o)] for o in outs]), inputs=[], outputs=outs,
                             show_progress="hidden", queue=False, concurrency_limit=None, api_visibility="private")
            added += 1
    return added


def quiet_input_checks(app: gr.Blocks) -> int:
    """Gradio's own checks of an input (a number out of a box's range, a value not among a dropdown's
    choices) raise ``gr.Error`` before the handler runs, so :func:`safe` never sees them: make each of them,
    too, one line in the log (``input error in <the input's label>: <message>``) instead of a traceback.
    Wraps ``preprocess`` of every input of every event served by :func:`safe`; → inputs covered."""
    done = set()
    for dep in app.fns.values():
        if not getattr(dep.fn, "safe", False):
            continue
        for block in dep.inputs:
            if block._id in done or not hasattr(block, "preprocess"):
                continue
            name = getattr(block, "label", None) or getattr(block, "elem_id", None) or type(block).__name__
            block.preprocess = _quiet(block.preprocess, name)
            done.add(block._id)
    return len(done)


def _quiet(preprocess: Callable, name: str) -> Callable:
    @functools.wraps(preprocess)
    def checked(*args, **kwargs):
        try:
            return preprocess(*args, **kwargs)
        except gr.Error as e:
            input_error(name, e)
            raise

    return checked


# What a gallery of a tab not yet opened shows (demo.app.CSS styles it); its images come when the tab opens.
LOADING = '<p class="loading" role="status">Loading the first images…</p>'


def defer_images(app: gr.Blocks) -> int:
    """Keep the first page small. Every gallery (an HTML component whose value holds inline images) of a tab
    that is not the first of its tabs starts as :data:`LOADING` in the page, and gets its value (made at
    start-up, so nothing is computed then) when the visitor first opens that tab: one event per tab, on the
    tab's ``select``, private, answered at once (no queue). A per-visit flag (``gr.State``) makes it run only
    the first time, so the images a visitor made there are never replaced on the way back. The first tab's
    galleries stay in the page: they are what a visitor sees first. Call once, after every tab is built;
    → galleries deferred."""
    deferred: dict[int, tuple[gr.Tab, list[gr.HTML], list[str]]] = {}
    for block in list(app.blocks.values()):
        if not isinstance(block, gr.HTML) or "data:image/" not in str(block.value or ""):
            continue
        tab = _tab_of(block)
        if tab is None or _is_first(tab):
            continue
        _, outs, values = deferred.setdefault(tab._id, (tab, [], []))
        outs.append(block)
        values.append(block.value)
    with app:
        for tab, outs, values in deferred.values():
            for block in outs:
                block.value = LOADING
            opened = gr.State(False)
            tab.select(_first_open(values), [opened], [opened, *outs], queue=False, api_visibility="private")
    return sum(len(outs) for _, outs, _ in deferred.values())


def _tab_of(block) -> gr.Tab | None:
    parent = block.parent
    while parent is not None and not isinstance(parent, gr.Tab):
        parent = parent.parent
    return parent


def _is_first(tab: gr.Tab) -> bool:
    siblings = [c for c in getattr(tab.parent, "children", []) if isinstance(c, gr.Tab)]
    return not siblings or siblings[0] is tab


def _first_open(values: list[str]) -> Callable:
    """The event of :func:`defer_images`: (opened before?) → (True, the galleries), or nothing at all."""
    def fill(opened):
        return [gr.skip()] * (len(values) + 1) if opened else [True, *values]

    return fill


def _blanks(values: list) -> Callable:
    def blank():
        return values[0] if len(values) == 1 else list(values)

    return blank


# ------------------------------------------------------------------------------------------ images
def to_png_array(image: torch.Tensor, scale: int) -> np.ndarray:
    """``[C, H, W]`` in [-1, 1] → ``[H·scale, W·scale, 3]`` uint8, each pixel a ``scale``×``scale``
    square (nearest neighbour: a 16-px Stage-I reads as pixels, not as blur)."""
    arr = image_to_uint8(image)  # [H, W, C]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if scale > 1:
        arr = arr.repeat(scale, axis=0).repeat(scale, axis=1)
    return np.ascontiguousarray(arr)


def data_uri(arr: np.ndarray) -> str:
    """uint8 ``[H, W, 3]`` → ``data:image/png;base64,...`` (the image travels inside the answer)."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=1)  # small images: fast beats small
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Sample:
    """One image of a gallery: pixels, the line under it, the name its download gets."""

    image: np.ndarray  # uint8 [H, W, 3]
    caption: str  # e.g. "seed 7"
    filename: str  # e.g. "a-red-star_seed-7_stage2.png"


def alt_text(alt: str, caption: str, title: str = "") -> str:
    """An image's alt text: what the image is (``alt``, e.g. ``Stage-II image of "a red star",``) and the
    line under it (``caption``, e.g. ``seed 7``); the gallery's ``title`` stands in when ``alt`` is empty."""
    return one_line(f"{alt or title.rstrip('.:') + ','} {caption}".strip(" ,"), limit=2000)


def gallery_html(title: str, samples: Sequence[Sample], columns: int | None = None, alt: str = "",
                 css_class: str = "") -> str:
    """A titled grid of images, each with its caption and a download button, as one HTML string.

    The images are inline (``data:`` URIs): the answer to a request carries its own images, so
    no file is written, shared, served separately or left behind. ``columns`` fixes the number
    per row (default: all in one row); the CSS in :data:`demo.app.CSS` scales them to the width
    (``css_class``: more classes for the grid, e.g. ``strip``: fewer per row on a phone).
    Each image's alt text (:func:`alt_text`) says what it is (``alt``: e.g. the stage and the visitor's
    caption it was drawn from; the title when empty) and ends with the caption under it.
    Everything is escaped (``alt`` may hold a visitor's text; captions are "seed 7", names are slugs).
    """
    columns = columns or max(1, len(samples))
    figures = "".join(
        f'<figure class="sample"><img src="{data_uri(s.image)}" alt="{esc(alt_text(alt, s.caption, title))}" '
        f'width="{s.image.shape[1]}" height="{s.image.shape[0]}"><figcaption><span>{esc(s.caption)}</span>'
        f'<a class="save" href="#" download="{esc(s.filename)}" title="Download {esc(s.filename)}" '
        f'aria-label="Download this image">⤓</a></figcaption></figure>'
        for s in samples)
    return (f'<div class="gallery-title">{esc(title)}</div>'
            f'<div class="samples {esc(css_class)}" style="--columns: {int(columns)}" data-count="{len(samples)}">'
            f'{figures}</div>')


# A download link gets its image when clicked (the image is in the page once, not twice).
SAVE_JS = """
element.addEventListener('click', (event) => {
  const link = event.target.closest('a.save');
  if (!link) return;
  const img = link.closest('figure').querySelector('img');
  if (img) { link.href = img.src; } else { event.preventDefault(); }
});
"""


# ---------------------------------------------------------------------------------------- batching
@dataclass
class Job:
    """One request's samples: sample ``i`` is conditioned on ``weights[i] @ embed(captions)`` and
    drawn with ``noise[k][i]`` (interpolation mixes two captions; a plain request has one)."""

    captions: list[str]  # the distinct captions this job needs
    weights: torch.Tensor  # [n, len(captions)]
    noise: dict[str, torch.Tensor]  # {name: [n, ...]}
    future: Future = field(default_factory=Future)

    @property
    def n(self) -> int:
        return int(self.weights.shape[0])


class Batcher:
    """One worker thread per model runs every job; jobs that arrive while it is busy wait and then
    go through together, in one text-encoder call and one ``Pipeline.generate`` call.

    Args:
        pipe: the model.
        encode: captions → ``[N, E]`` embeddings (the demo's own, with a bounded memo).
        max_samples: most samples in one forward pass (a larger job runs alone).
        linger_s: after the first job of an idle spell, wait this long for others (a burst of
            visitors then shares the first pass too).
    """

    def __init__(self, pipe: Pipeline, encode: Callable[[list[str]], torch.Tensor],
                 max_samples: int = 256, linger_s: float = 0.005):
        self.pipe, self.encode = pipe, encode
        self.max_samples, self.linger_s = max_samples, linger_s
        self._queue: queue.Queue[Job] = queue.Queue()
        # recent passes: (jobs, samples, seconds); for the tests and the latency benchmark
        self.passes: collections.deque[tuple[int, int, float]] = collections.deque(maxlen=1000)
        self._thread = threading.Thread(target=self._run, name="demo-batcher", daemon=True)
        self._thread.start()

    def run(self, job: Job, timeout: float = 120.0) -> dict[str, torch.Tensor]:
        """Queue ``job``, wait for it → ``{name: [n, C, H, W]}`` as ``Pipeline.generate`` returns."""
        self._queue.put(job)
        return job.future.result(timeout=timeout)

    def _take(self) -> list[Job]:
        jobs = [self._queue.get()]
        total = jobs[0].n
        deadline = time.monotonic() + self.linger_s
        while total < self.max_samples:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if total + job.n > self.max_samples:
                self._queue.put(job)  # next pass (order among waiting jobs barely matters)
                break
            jobs.append(job)
            total += job.n
        return jobs

    def _run(self) -> None:
        while True:
            jobs = self._take()
            t0 = time.perf_counter()
            try:
                outs = self._forward(jobs)
            except BaseException as e:  # every waiting visitor hears of it; the worker lives on
                for job in jobs:
                    job.future.set_exception(e)
                continue
            self.passes.append((len(jobs), sum(j.n for j in jobs), time.perf_counter() - t0))
            start = 0
            for job in jobs:
                job.future.set_result({k: v[start:start + job.n] for k, v in outs.items()})
                start += job.n

    @torch.no_grad()
    def _forward(self, jobs: list[Job]) -> dict[str, torch.Tensor]:
        captions = list(dict.fromkeys(c for job in jobs for c in job.captions))
        table = self.encode(captions)  # [C, E]
        index = {c: i for i, c in enumerate(captions)}
        emb = torch.cat([job.weights @ table[[index[c] for c in job.captions]] for job in jobs])  # [N, E]
        noise = {k: torch.cat([job.noise[k] for job in jobs]) for k in jobs[0].noise}
        return self.pipe.generate(embeddings=emb, noise=noise)


@dataclass
class NoiseJob:
    """One request's samples for :class:`NoiseBatcher`: sample ``i`` is drawn from ``noise[k][i]`` and, for
    a label-conditioned model, asked for class ``labels[i]``."""

    noise: dict[str, torch.Tensor]  # {name: [n, ...]}
    labels: torch.Tensor | None = None  # [n] int64; None for an unconditional model
    future: Future = field(default_factory=Future)

    @property
    def n(self) -> int:
        return int(next(iter(self.noise.values())).shape[0])


class NoiseBatcher(Batcher):
    """:class:`Batcher` for a model with no text to encode (label-conditioned or unconditional): the same
    queue, worker and passes log; one ``Pipeline.generate(noise=...[, labels=...])`` per pass."""

    def __init__(self, pipe: Pipeline, **kwargs):
        super().__init__(pipe, encode=None, **kwargs)

    @torch.no_grad()
    def _forward(self, jobs: list[NoiseJob]) -> dict[str, torch.Tensor]:
        noise = {k: torch.cat([job.noise[k] for job in jobs]) for k in jobs[0].noise}
        if jobs[0].labels is None:
            return self.pipe.generate(noise=noise)
        return self.pipe.generate(labels=torch.cat([job.labels for job in jobs]), noise=noise)


class Memo:
    """A bounded memo of caption embeddings in memory (least recently used out first).

    The demo encodes with an *uncached* text encoder plus this memo: the project's disk cache keeps
    one file per distinct call, which free text from visitors would grow without end."""

    def __init__(self, encode: Callable[[list[str]], torch.Tensor], size: int = 2048):
        self._encode = encode
        self._memo: LRU[str, torch.Tensor] = LRU(size)  # caption -> [E]
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._memo.size

    def __len__(self) -> int:
        return len(self._memo)

    def __call__(self, captions: list[str]) -> torch.Tensor:
        with self._lock:
            missing = [c for c in dict.fromkeys(captions) if c not in self._memo]
        fresh = self._encode(missing).float() if missing else None
        with self._lock:
            # every row first, then one put per caption in order: a call with more distinct captions
            # than ``size`` still answers all of them (and keeps the ``size`` used last)
            known = {c: fresh[i].clone() for i, c in enumerate(missing)}  # caption -> [E]
            for c in dict.fromkeys(captions):
                if c not in known:
                    known[c] = self._memo.peek(c)
            for c in captions:
                self._memo.put(c, known[c])
        return torch.stack([known[c] for c in captions])  # [N, E]

"""Throughput benchmark (issue #14): training steps, sampling, FLOPs against this machine's measured
limit, peak memory, and StackGAN side by side with StackGAN-Pytorch's architecture.

    python -m bench.perf                                 # this CPU, every model, quick + paper:
                                                         #   results/perf/cpu.csv and cpu.md
    python -m bench.perf --threads 1 2                   # the same at 1 and at 2 torch threads
    python -m bench.perf --device cuda --bf16 --compile  # a GPU: results/perf/cuda.csv and cuda.md
    python -m bench.perf --quick-check                   # tiny sizes, seconds: runs/perf-quick-check/

For every model of the suite (``core.models.available_models(builtin_only=True)``), preset and training phase ("stage"):

- **training step**: the model's own ``train_step`` through :class:`core.models.base.StepContext` with
  the phase's optimizers, as ``core.train`` runs it, on a synthetic batch of the run's shape (the loop's
  data loading and collate are not timed); ms/step is the median of up to ``--steps`` timed steps after
  warm-up, images/s is batch / that;
- **FLOPs per step** from ``torch.utils.flop_counter.FlopCounterMode`` (forward and backward of convs
  and matmuls; elementwise work and the optimizer are not counted), the achieved GFLOP/s, and the
  fractions of this machine's sgemm and 3×3-conv forward+backward rates, measured in the same run
  before and after the models (the larger of the two is the limit);
- **sampling latency**: ``spec.generate`` on a batch of 64 captions (``--sample-batch``), no grad;
- **peak memory** over the measurement: growth of the resident set over the process's size before the
  model is built (``VmHWM`` after resetting it through ``/proc/self/clear_refs``, else ``ru_maxrss``) on
  CPU, ``torch.cuda.max_memory_allocated`` on CUDA; ours holds the whole model (every stage's networks,
  as the loop builds it), the reference only the stage's;
- **StackGAN against the reference**: the same phases with :mod:`bench.reference_stackgan`, an
  architecture-identical copy of StackGAN-Pytorch stepped the way its trainer steps it (fp32, eager,
  ``cudnn.benchmark`` on CUDA), on the same data; our StackGAN runs configured like it
  (:data:`bench.reference_stackgan.PT_STYLE`) so both run one architecture, and ``speedup_vs_reference``
  is reference ms/step / ours.

When the run config has a ``channels_last`` field, ours is measured with it off and on (column
``channels_last``): networks and image batch in channels_last memory format, as ``core.train`` does.
``--bf16`` (autocast, CUDA only) and ``--compile`` (``torch.compile`` of each sub-network) apply to ours;
the reference runs as its trainer does.

Each measurement runs in a fresh process forked from a server that has only imported this code, so
one measurement's memory, caches and thread pools do not leak into the next; each sets
``torch.set_num_threads(--threads)``. Output: ``<out>/<device>.csv``, one row per (model, preset,
stage, impl, channels_last, threads, measure), and ``<out>/<device>.md``, the readable tables with the
command at the top. The paper preset runs at ``--paper-batch`` images per step on CPU (8 by default;
its own 64 on CUDA), which the output says.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import math
import multiprocessing as mp
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.reference_stackgan import KL_COEFF, PT_STYLE, reference_like, reference_optimizers, reference_step
from bench.report import md_table
from core.config import TrainConfig
from core.pipeline import seeded_noise
from core.resolve import build_config
# the step outside the loop, built from the loop's own parts (bench reaches the models through core.train:
# tests/test_architecture.py keeps bench off core.models)
from core.train import (DataInfo, StepContext, _make_optimizers, _set_phase, autocast_for, available_models,
                        build_model, checks_each_step, get_model_spec)

CSV_COLUMNS = ["device", "model", "preset", "stage", "impl", "channels_last", "threads", "batch", "resolution",
               "measure", "value", "unit", "n", "dtype", "compiled", "torch", "cpu"]
SAMPLE_STAGE = "generate"  # the stage column of sampling rows (the whole stack: spec.generate)
# phases of a model that have a reference counterpart: model -> {phase name: reference stage}
REFERENCES = {"stackgan": {"stage1": 1, "stage2": 2}}
# what the fork server of the worker processes imports once, so that each measurement starts in milliseconds
# (torch._dynamo: the optimizers import it on first use)
PRELOAD = ["torch", "torch._dynamo", "torch.utils.flop_counter", "core.train", "bench.reference_stackgan",
           "bench.report"]
# run-config overrides that make a model the reference's architecture (see bench.reference_stackgan)
REFERENCE_STYLE = {"stackgan": PT_STYLE}


@dataclass(frozen=True)
class Settings:
    """What every measurement of a run shares (sent to the worker processes)."""

    device: str                       # "cpu" | "cuda"
    steps: int = 10                   # at most this many timed repetitions
    min_steps: int = 3                # at least this many, whatever max_seconds says
    max_seconds: float = 60.0         # stop timing once this much time is spent (after min_steps)
    warmup: int = 2                   # untimed steps first (the first one also counts the FLOPs)
    paper_batch: int | None = 8       # batch of the paper preset (None: the preset's own)
    sample_batch: int = 64            # captions per sampling call
    bf16: bool = False                # bf16 autocast for ours (CUDA only)
    compile: bool = False             # torch.compile each of our sub-networks
    gemm_n: int = 2048                # machine limit: an n×n×n float matmul
    conv_shape: tuple[int, int, int] = (32, 128, 32)  # and a 3×3 conv: (batch, channels in = out, side)


@dataclass(frozen=True)
class Job:
    """One measurement, run in its own process."""

    kind: str                  # "train" | "sample" | "machine"
    model: str = "machine"
    preset: str = "-"
    stage: str = "-"           # phase name, SAMPLE_STAGE, or "start" / "end" for the machine limit
    impl: str = "ours"         # "ours" | "reference" | "machine"
    channels_last: bool = False
    threads: int = 1

    def label(self) -> str:
        if self.kind == "machine":
            return f"machine limit ({self.stage}), {self.threads} thread(s)"
        cl = ", channels_last" if self.channels_last else ""
        return f"{self.model} {self.preset} {self.stage} {self.impl}{cl}, {self.threads} thread(s)"


# ---------------------------------------------------------------------------------------------- setup

def run_config(model: str, preset: str, s: Settings, channels_last: bool = False, threads: int = 1) -> TrainConfig:
    """The run config a measurement uses: the preset, in the reference's architecture where the model has
    one, at ``s.paper_batch`` for the paper preset, with the device, bf16, channels_last and thread count."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    fields = {"device": s.device, "bf16": s.bf16}
    optional = {"channels_last": channels_last, "num_threads": threads, "compile": s.compile}
    fields.update({k: v for k, v in optional.items() if k in names})
    if preset == "paper" and s.paper_batch:
        fields["batch_size"] = s.paper_batch
    return build_config(model, preset, REFERENCE_STYLE.get(model, {}), **fields)


def data_info(spec, cfg: TrainConfig) -> DataInfo:
    """Image and condition sizes for ``spec`` (a ModelSpec): 1024-d text at the paper preset (the
    char-CNN-RNN vectors of the StackGAN release), 384-d otherwise (MiniLM, the default encoder); 10
    classes; 3-channel normals."""
    kinds = spec.condition_kinds(cfg.model)
    return DataInfo(channels=3, resolution=cfg.resolution,
                    embed_dim=(1024 if cfg.preset == "paper" else 384) if "text" in kinds else 0,
                    num_classes=10, structure_channels=3 if "structure" in kinds else 0)


def conditions(kinds: tuple[str, ...], info: DataInfo, n: int, device: torch.device, gen: torch.Generator) -> dict:
    """Random conditions of each kind for ``n`` items, as described at ``core.models.base.CONDITION_KINDS``."""
    out = {}
    for kind in kinds:
        if kind == "text":
            out["text"] = torch.randn(n, info.embed_dim, generator=gen)  # [n, E]
        elif kind == "label":
            out["label"] = torch.randint(info.num_classes, (n,), generator=gen)  # [n]
        elif kind == "structure":
            v = torch.randn(n, info.structure_channels, info.resolution, info.resolution, generator=gen)
            out["structure"] = v / v.norm(dim=1, keepdim=True)  # [n, 3, R, R] unit normals
    return {k: v.to(device) for k, v in out.items()}


def synthetic_batch(spec, cfg: TrainConfig, info: DataInfo, device: torch.device) -> dict:
    """A training batch as the loop builds it (image, label, the model's conditions, the normals a model
    reads (``ModelSpec.batch_keys``) and, for a matching-aware model, ``wrong_<kind>``), random, on
    ``device``; channels_last images when the config asks for them."""
    gen = torch.Generator().manual_seed(0)
    B, R = cfg.batch_size, cfg.resolution
    batch = {"image": (torch.rand(B, info.channels, R, R, generator=gen) * 2 - 1).to(device),  # [B, C, R, R]
             "label": torch.randint(max(info.num_classes, 1), (B,), generator=gen).to(device)}
    kinds = spec.condition_kinds(cfg.model)
    batch.update(conditions(kinds, info, B, device, gen))
    if spec.mismatched:
        batch.update({f"wrong_{k}": v for k, v in conditions(kinds, info, B, device, gen).items()})
    if "structure" in batch:
        batch["normals"] = batch["structure"]  # the loop's batch carries the items' normals under both names
    if "normals" in spec.batch_keys and "normals" not in batch:  # read by a model not conditioned on them
        batch["normals"] = conditions(("structure",), dataclasses.replace(info, structure_channels=3), B, device,
                                      gen)["structure"]
    if getattr(cfg, "channels_last", False):
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
    return batch


@dataclass
class Stepper:
    """A measurable unit of work: ``step()`` once, its modules (for ``torch.compile``), and the number of
    parameters it trains."""

    step: Callable[[], object]
    modules: list[nn.Module]
    params: int


def our_train_step(job: Job, cfg: TrainConfig, device: torch.device) -> Stepper:
    """The model's ``train_step`` for phase ``job.stage`` with that phase's optimizers (frozen
    sub-networks in eval mode without gradients, as the loop sets them)."""
    spec = get_model_spec(job.model)
    info = data_info(spec, cfg)
    model = build_model(cfg, info).to(device)
    if getattr(cfg, "channels_last", False):
        model = model.to(memory_format=torch.channels_last)
    phase = next(p for p in spec.phases(cfg) if p.name == job.stage)
    _set_phase(model, phase)
    optimizers = _make_optimizers(model, phase)
    nets = dict(model.named_children())
    batch = synthetic_batch(spec, cfg, info, device)
    autocast, counter = autocast_for(cfg, device), iter(range(1 << 62))
    check_finite = checks_each_step(cfg, device)  # the loop's rule

    def step():
        spec.train_step(batch, StepContext(nets, optimizers, phase, next(counter), cfg, autocast,
                                           check_finite=check_finite))

    trained = sum(p.numel() for n in phase.trainable() for p in nets[n].parameters())
    return Stepper(step, list(nets.values()), trained)


def reference_train_step(job: Job, cfg: TrainConfig, device: torch.device) -> Stepper:
    """The reference's step of the same phase on the same batch (Stage-I trains on the batch at the
    Stage-I resolution, which the reference's data loader delivers)."""
    spec = get_model_spec(job.model)
    info = data_info(spec, cfg)
    stage = REFERENCES[job.model][job.stage]
    netG, netD = (m.to(device) for m in reference_like(cfg, info.embed_dim, stage, info.channels))
    opt_g, opt_d = reference_optimizers(netG, netD, cfg.lr_g, cfg.lr_d, (cfg.beta1, cfg.beta2))
    batch = synthetic_batch(spec, cfg, info, device)
    real = batch["image"]  # [B, C, R, R]
    if stage == 1 and real.shape[-1] != cfg.model.stage1_resolution:
        real = F.avg_pool2d(real, real.shape[-1] // cfg.model.stage1_resolution)  # [B, C, R1, R1]
    trained = sum(p.numel() for m in (netG, netD) for p in m.parameters() if p.requires_grad)
    heads = [h for h in (netD.get_cond_logits, netD.get_uncond_logits) if h is not None]
    return Stepper(lambda: reference_step(netG, netD, opt_g, opt_d, real, batch["text"], KL_COEFF),
                   [netG, netD, *heads], trained)


def sampler(job: Job, cfg: TrainConfig, device: torch.device, n: int) -> Stepper:
    """Generate ``n`` images without gradients: ours through ``spec.generate`` (the whole stack), the
    reference through its last stage's generator (which runs its Stage-I inside)."""
    spec = get_model_spec(job.model)
    info = data_info(spec, cfg)
    gen = torch.Generator().manual_seed(1)
    cond = conditions(spec.condition_kinds(cfg.model), info, n, device, gen)
    if job.impl == "reference":
        stage = max(REFERENCES[job.model].get(p.name, 0) for p in spec.phases(cfg))  # the last stage trained
        netG = reference_like(cfg, info.embed_dim, stage, info.channels)[0].to(device).eval()
        z = torch.randn(n, netG.z_dim, generator=gen).to(device)  # [n, Z]
        autocast, run = contextlib.nullcontext, lambda: netG(cond["text"], z)[1]
        modules = [netG]
    else:
        model = build_model(cfg, info).to(device).eval()
        if getattr(cfg, "channels_last", False):
            model = model.to(memory_format=torch.channels_last)
        noise = {k: v.to(device) for k, v in seeded_noise(spec.noise_shapes(cfg.model), range(n)).items()}
        autocast, run = autocast_for(cfg, device), lambda: spec.generate(model, cond, noise)["image"]
        modules = list(model.children())

    def step():
        with torch.no_grad(), autocast():
            return run()

    return Stepper(step, modules, 0)


# ---------------------------------------------------------------------------------------------- measuring

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], s: Settings, device: torch.device, what: str = "") -> list[float]:
    """Seconds of each of at least ``s.min_steps`` and at most ``s.steps`` calls, stopping once
    ``s.max_seconds`` are spent; a line on stderr for each call longer than 5 s."""
    times: list[float] = []
    while len(times) < s.steps and (len(times) < s.min_steps or sum(times) < s.max_seconds):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
        if times[-1] > 5:
            print(f"      {what} {len(times)}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
    return times


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` (forward and backward; FlopCounterMode's count)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


class PeakMemory:
    """Peak memory growth from construction to :meth:`mib`: CUDA allocations on a GPU, the resident set
    on CPU (``/proc/self/status`` VmHWM, reset through ``clear_refs``; ``ru_maxrss`` where that fails)."""

    def __init__(self, device: torch.device):
        self.device = device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            self.base = torch.cuda.memory_allocated(device)
            return
        self.proc = self._reset_hwm()
        self.base = self._status_kib("VmRSS") if self.proc else self._maxrss_kib()

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets the process's peak resident set (VmHWM) to its current size
            return True
        except OSError:
            return False

    @staticmethod
    def _status_kib(key: str) -> int:
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith(key + ":"))
        return int(line.split()[1])  # "VmHWM:   123456 kB"

    @staticmethod
    def _maxrss_kib() -> int:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB on Linux

    def mib(self) -> float:
        if self.device.type == "cuda":
            return (torch.cuda.max_memory_allocated(self.device) - self.base) / 2 ** 20
        peak = self._status_kib("VmHWM") if self.proc else self._maxrss_kib()
        return (peak - self.base) / 1024


def warm_libraries(device: torch.device) -> None:
    """Run a tiny conv net's forward, backward and Adam step once, so that one-off library set-up (kernel
    caches, oneDNN / cuDNN handles) happens before :class:`PeakMemory` starts counting."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(64, 1)).to(device)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(2, 3, 4, 4, device=device)).sum().backward()
    opt.step()
    _sync(device)


def _row(measure: str, value: float, unit: str, n: int = 1, **extra) -> dict:
    return {"measure": measure, "value": value, "unit": unit, "n": n, **extra}


def machine_rows(s: Settings, device: torch.device) -> list[dict]:
    """This machine's rates on its own: an n×n×n matmul and a 3×3 conv (same channels in and out, padding
    1) forward and forward+backward, in the run's compute dtype; GFLOP/s of the median of the calls."""
    dtype = torch.bfloat16 if s.bf16 and device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    a = torch.randn(s.gemm_n, s.gemm_n, device=device, dtype=dtype)
    b = torch.randn(s.gemm_n, s.gemm_n, device=device, dtype=dtype)
    B, C, H = s.conv_shape
    x = torch.randn(B, C, H, H, device=device, dtype=dtype, requires_grad=True)  # [B, C, H, H]
    w = torch.randn(C, C, 3, 3, device=device, dtype=dtype, requires_grad=True)
    gy = torch.randn(B, C, H, H, device=device, dtype=dtype)

    def fwd():
        return F.conv2d(x, w, padding=1)

    def fwd_bwd():
        fwd().backward(gy)

    rows = []
    for name, fn in (("sgemm", lambda: a @ b), ("conv_fwd", fwd), ("conv_fwd_bwd", fwd_bwd)):
        flops = count_flops(fn)
        fn()
        times = time_calls(fn, s, device, name)
        rows.append(_row(f"{name}_gflop_per_s", flops / statistics.median(times) / 1e9, "GFLOP/s", len(times),
                         dtype=str(dtype).removeprefix("torch.")))
    return rows


def run_job(job: Job, s: Settings) -> list[dict]:
    """Run one measurement (in a worker process) and return its CSV rows (without the run-wide columns)."""
    torch.set_num_threads(job.threads)
    device = torch.device(s.device)
    if job.kind == "machine":
        return [{**r, "threads": torch.get_num_threads()} for r in machine_rows(s, device)]
    torch.manual_seed(0)
    ours = job.impl == "ours"
    if device.type == "cuda" and not ours:
        torch.backends.cudnn.benchmark = True  # the reference trainer sets it
    warm_libraries(device)
    memory = PeakMemory(device)
    cfg = run_config(job.model, job.preset, s, job.channels_last, job.threads)
    if job.kind == "sample":
        work, batch, per = sampler(job, cfg, device, s.sample_batch), s.sample_batch, "call"
    else:
        work = (our_train_step if ours else reference_train_step)(job, cfg, device)
        batch, per = cfg.batch_size, "step"
    flops = count_flops(work.step)  # the first call, also a warm-up
    compiled = s.compile and ours
    if compiled:
        for m in work.modules:
            m.compile()
    # training: more warm-up steps (the optimizers' state exists from the second on); sampling: the FLOP
    # count's call only; compiled: two more calls, which compile
    for _ in range((max(s.warmup - 1, 0) if job.kind == "train" else 0) + (2 if compiled else 0)):
        work.step()
    times = time_calls(work.step, s, device, f"{per}")
    sec, n = statistics.median(times), len(times)
    q = statistics.quantiles(times, n=4) if n > 1 else [sec, sec, sec]
    dtype = "bfloat16" if (s.bf16 and ours and device.type == "cuda") else "float32"
    common = {"batch": batch, "threads": torch.get_num_threads(), "dtype": dtype, "compiled": compiled,
              "resolution": cfg.resolution}
    rows = [_row(f"ms_per_{per}", sec * 1e3, "ms", n), _row(f"ms_per_{per}_iqr", (q[2] - q[0]) * 1e3, "ms", n),
            _row("images_per_s", batch / sec, "images/s", n),
            _row(f"gflop_per_{per}", flops / 1e9, "GFLOP"), _row("gflop_per_s", flops / sec / 1e9, "GFLOP/s", n),
            _row("peak_mem_mib", memory.mib(), "MiB")]
    if job.kind == "train":
        rows.append(_row("params_m", work.params / 1e6, "M"))
    return [{**r, **common} for r in rows]


# ---------------------------------------------------------------------------------------------- the run

def plan(models: list[str], presets: list[str], threads: list[int], s: Settings) -> list[Job]:
    """Every measurement of a run: the machine limit first and last (per thread count), and in between,
    per model, preset and phase, ours (channels_last off and, where the config has it, on) and the
    reference where one exists; then sampling."""
    has_cl = "channels_last" in {f.name for f in dataclasses.fields(TrainConfig)}
    jobs: list[Job] = []
    for t in threads:
        jobs.append(Job("machine", stage="start", impl="machine", threads=t))
        for model in models:
            spec = get_model_spec(model)
            refs = REFERENCES.get(model, {})
            for preset in presets:
                variants = [False, True] if has_cl else [False]
                ours = [Job("train", model, preset, ph.name, "ours", cl, t)
                        for ph in spec.phases(run_config(model, preset, s)) for cl in variants]
                for job in ours:
                    jobs.append(job)
                    if job.channels_last == variants[-1] and job.stage in refs:
                        jobs.append(dataclasses.replace(job, impl="reference", channels_last=False))
                if spec.generate is not None:  # not for a component that makes no images (SGAN's encoder)
                    jobs += [Job("sample", model, preset, SAMPLE_STAGE, "ours", cl, t) for cl in variants]
                if refs:
                    jobs.append(Job("sample", model, preset, SAMPLE_STAGE, "reference", False, t))
        jobs.append(Job("machine", stage="end", impl="machine", threads=t))
    return jobs


def derived_rows(rows: list[dict]) -> list[dict]:
    """Fractions of the machine's limit (the larger of its start and end rates at the same thread count;
    the conv rate forward and backward for training, forward for sampling) for each measurement, and
    ours / reference speedups (reference ms ÷ ours ms)."""
    limit: dict[tuple[int, str], float] = {}
    for r in rows:
        if r["model"] == "machine":
            key = (r["threads"], r["measure"])
            limit[key] = max(limit.get(key, 0.0), r["value"])
    ms = {(r["model"], r["preset"], r["stage"], r["impl"], r["channels_last"], r["threads"]): r
          for r in rows if r["measure"] in ("ms_per_step", "ms_per_call")}
    out = []
    for r in rows:
        if r["measure"] != "gflop_per_s":
            continue
        conv = "conv_fwd_gflop_per_s" if r["stage"] == SAMPLE_STAGE else "conv_fwd_bwd_gflop_per_s"  # no grad
        for machine, name in (("sgemm_gflop_per_s", "frac_sgemm"), (conv, "frac_conv")):
            if (r["threads"], machine) in limit:
                out.append({**r, "measure": name, "value": r["value"] / limit[r["threads"], machine], "unit": "1"})
    for (model, preset, stage, impl, cl, t), r in ms.items():
        ref = ms.get((model, preset, stage, "reference", False, t))
        if impl == "ours" and ref is not None:
            out.append({**r, "measure": "speedup_vs_reference", "value": ref["value"] / r["value"], "unit": "x"})
    return out


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        name = ""
    return f"{name or platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def device_name(device: str) -> str:
    if device == "cuda":
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return "cpu"


def _fmt(v: float | None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}" if abs(v) < 1e4 else f"{v:.3g}"


def write_markdown(path: Path, rows: list[dict], command: str, s: Settings, wall_s: float) -> None:
    """The readable report: command, machine, the machine limit, training steps, sampling, notes."""
    by = {}
    for r in rows:
        by.setdefault((r["model"], r["preset"], r["stage"], r["impl"], r["channels_last"], r["threads"]), {})[
            r["measure"]] = r
    first = rows[0] if rows else {}
    paper_note = (f"The paper preset runs at batch {s.paper_batch} here (the preset trains at 64)."
                  if s.paper_batch else "Every preset runs at its own batch size.")
    lines = [f"# Throughput on {first.get('device', s.device)}", "", "```", command, "```", "",
             f"Machine: {first.get('cpu', cpu_name())}; torch {torch.__version__}; device {first.get('device')}; "
             f"ours in {'bf16 autocast' if s.bf16 else 'float32'}{', torch.compile' if s.compile else ''}; "
             f"{time.strftime('%Y-%m-%d')}; {wall_s / 60:.1f} min. {paper_note}", ""]
    machine = [[k[5], k[2], _fmt(m.get("sgemm_gflop_per_s", {}).get("value")),
                _fmt(m.get("conv_fwd_gflop_per_s", {}).get("value")),
                _fmt(m.get("conv_fwd_bwd_gflop_per_s", {}).get("value"))]
               for k, m in by.items() if k[0] == "machine"]
    B, C, H = s.conv_shape
    lines += ["## The machine's limit, measured in this run", "",
              f"A {s.gemm_n}³ matmul and a 3×3 conv {C}→{C} at {H}×{H}, batch {B}, in GFLOP/s.", "",
              md_table(["threads", "when", "sgemm", "conv fwd", "conv fwd+bwd"], machine), ""]

    def val(m, key, digits=1, scale=1.0):
        return _fmt(m[key]["value"] * scale, digits) if key in m else "–"

    train = [[*k[:5], k[5], m["ms_per_step"]["batch"], m["ms_per_step"]["resolution"], val(m, "ms_per_step"),
              val(m, "images_per_s"), val(m, "gflop_per_step", 2), val(m, "gflop_per_s"),
              val(m, "frac_sgemm", 0, 100), val(m, "frac_conv", 0, 100), val(m, "peak_mem_mib", 0),
              val(m, "params_m", 2), val(m, "speedup_vs_reference", 2)]
             for k, m in by.items() if "ms_per_step" in m]
    lines += ["## Training steps", "",
              md_table(["model", "preset", "stage", "impl", "channels_last", "threads", "batch", "px", "ms/step",
                        "images/s", "GFLOP/step", "GFLOP/s", "% sgemm", "% conv", "peak MiB", "params M",
                        "ours/ref"], train), ""]
    sample = [[k[0], k[1], k[3], k[4], k[5], m["ms_per_call"]["batch"], val(m, "ms_per_call"),
               val(m, "gflop_per_call", 2), val(m, "frac_conv", 0, 100), val(m, "peak_mem_mib", 0),
               val(m, "speedup_vs_reference", 2)]
              for k, m in by.items() if "ms_per_call" in m]
    lines += ["## Sampling (`spec.generate`, no grad)", "",
              md_table(["model", "preset", "impl", "channels_last", "threads", "images", "ms/call", "GFLOP/call",
                        "% conv", "peak MiB", "ours/ref"], sample), "",
              "## How to read this", "",
              f"- ms/step: median of up to {s.steps} timed steps (at least {s.min_steps}, at most about "
              f"{s.max_seconds:.0f} s) after {s.warmup} warm-up step(s) (sampling: one warm-up call); images/s = "
              "batch / that. The CSV has the interquartile range and the number of timed steps (`n`).",
              "- A step is the model's `train_step` (one D and one G update) on a synthetic batch; data "
              "loading is not timed. GFLOP/step counts convs and matmuls, forward and backward "
              "(`FlopCounterMode`); % sgemm and % conv divide the achieved rate by the machine's rates above "
              "(conv forward+backward for steps, forward for sampling).",
              "- `reference`: StackGAN-Pytorch's architecture and step (`bench/reference_stackgan.py`); ours "
              f"runs configured like it ({', '.join(f'{k}={v}' for k, v in PT_STYLE.items())}), so both train "
              "the same parameters (compare params M); ours/ref = reference ms ÷ ours ms.",
              "- peak MiB: growth of the resident set (CPU) or of CUDA allocations during the measurement, "
              "from model construction on, each measurement in its own process. Ours holds the whole model "
              "(every stage's networks, as the loop builds it), the reference only the stage's networks.", ""]
    path.write_text("\n".join(lines))


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def _summary(rows: list[dict]) -> str:
    m = {r["measure"]: r["value"] for r in rows}
    if "sgemm_gflop_per_s" in m:
        return (f"sgemm {m['sgemm_gflop_per_s']:.1f}, conv {m['conv_fwd_gflop_per_s']:.1f} fwd / "
                f"{m['conv_fwd_bwd_gflop_per_s']:.1f} fwd+bwd GFLOP/s")
    per = "step" if "ms_per_step" in m else "call"
    return (f"{m[f'ms_per_{per}']:.1f} ms/{per}, {m['images_per_s']:.1f} images/s, "
            f"{m[f'gflop_per_{per}']:.2f} GFLOP/{per}, peak {m['peak_mem_mib']:.0f} MiB")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, nargs="+", default=[1],
                   help="torch threads per measurement, one set of rows per value (default 1: how bench.ablations "
                        "runs its cells)")
    p.add_argument("--steps", type=int, default=None, help="at most this many timed steps per measurement (10)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop timing a measurement after this (60)")
    p.add_argument("--models", nargs="+", default=None, help="default: every registered model")
    p.add_argument("--presets", nargs="+", default=None, help="default: quick paper (smoke with --quick-check)")
    p.add_argument("--paper-batch", type=int, default=None,
                   help="batch of the paper preset (default 8 on CPU; the preset's 64 on CUDA; 0: the preset's)")
    p.add_argument("--sample-batch", type=int, default=64)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for ours (CUDA only)")
    p.add_argument("--compile", action="store_true", help="torch.compile each of our sub-networks (after warm-up "
                                                          "FLOP counting; compile time is not timed)")
    p.add_argument("--out", default=None, help="output folder (default results/perf; runs/perf-quick-check with "
                                               "--quick-check)")
    p.add_argument("--quick-check", action="store_true",
                   help="tiny: the smoke preset, 2 timed steps, a small machine limit (for the tests)")
    return p.parse_args(argv)


def settings_from(args) -> Settings:
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda, but CUDA is not available here")
    if args.bf16 and args.device != "cuda":
        raise SystemExit("error: --bf16 is for CUDA (bf16 autocast is several times slower on this kind of CPU)")
    paper_batch = (8 if args.device == "cpu" else None) if args.paper_batch is None else (args.paper_batch or None)
    s = Settings(device=args.device, sample_batch=args.sample_batch, bf16=args.bf16, compile=args.compile,
                 paper_batch=paper_batch)
    if args.device == "cuda":
        s = dataclasses.replace(s, gemm_n=8192, conv_shape=(64, 256, 64))
    if args.quick_check:
        s = dataclasses.replace(s, steps=2, min_steps=2, max_seconds=1.0, warmup=1, gemm_n=128, conv_shape=(2, 8, 8))
    return dataclasses.replace(s, steps=args.steps or s.steps, max_seconds=args.max_seconds or s.max_seconds,
                               min_steps=min(s.min_steps, args.steps or s.steps))


def main(argv=None) -> int:
    args = parse_args(argv)
    s = settings_from(args)
    models = args.models or available_models(builtin_only=True)  # workers know only these
    presets = args.presets or (["smoke"] if args.quick_check else ["quick", "paper"])
    out = Path(args.out or ("runs/perf-quick-check" if args.quick_check else "results/perf"))
    jobs = plan(models, presets, args.threads, s)
    given = list(argv if argv is not None else sys.argv[1:])
    command = "python -m bench.perf " + " ".join(shlex.quote(a) for a in given)
    run_wide = {"device": device_name(s.device), "torch": torch.__version__, "cpu": cpu_name(), "compiled": False}
    print(f"bench.perf: {len(jobs)} measurements on {run_wide['device']} ({run_wide['cpu']}), torch "
          f"{torch.__version__}", file=sys.stderr, flush=True)
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":  # workers fork from a process that has imported these
        ctx.set_forkserver_preload(PRELOAD)
    rows, failed, t0 = [], [], time.time()
    with ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1) as pool:
        for i, job in enumerate(jobs, 1):
            print(f"[{i}/{len(jobs)}] {job.label()} ...", file=sys.stderr, flush=True)
            t = time.time()
            try:
                got = pool.submit(run_job, job, s).result()
            except Exception as e:  # one failed measurement (e.g. out of memory) does not lose the others
                failed.append(job.label())
                print(f"      FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                continue
            keys = {"model": job.model, "preset": job.preset, "stage": job.stage, "impl": job.impl,
                    "channels_last": job.channels_last}
            rows += [{**run_wide, "batch": "", "resolution": "", **keys, **r} for r in got]
            print(f"      {_summary(got)} ({time.time() - t:.1f} s)", file=sys.stderr, flush=True)
    rows += derived_rows(rows)
    out.mkdir(parents=True, exist_ok=True)
    name = "cuda" if s.device == "cuda" else "cpu"
    write_csv(out / f"{name}.csv", rows)
    write_markdown(out / f"{name}.md", rows, command, s, time.time() - t0)
    print(f"wrote {out / f'{name}.csv'} and {out / f'{name}.md'}", file=sys.stderr)
    if failed:
        print(f"error: {len(failed)} measurement(s) failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

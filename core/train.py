"""The one training loop for every stacked GAN (``python -m core.train``).

What differs between models lives in their :class:`core.models.base.ModelSpec`; this module owns
data, the conditions each batch carries (:mod:`core.conditioning`), optimizers, phases, frozen
networks loaded from other checkpoints, checkpoints, exact resume, logging, sample grids, devices and DDP.

Exact resume: the data order is a pure function of (data seed, step), and the RNG states of
torch, numpy, python and the condition sampler are saved with every checkpoint, so a run killed at
any point and resumed with ``--resume`` ends bit-for-bit identical (on CPU) to an uninterrupted one.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

from core.checkpoint import (find_checkpoint, git_sha, list_checkpoints, load_submodule, load_training_state,
                             load_weights, parse_frozen, write_checkpoint)
from core.conditioning import BatchConditions, resolve_text_encoder
from core.config import TrainConfig, dict_differences, parse_value
from core.data.base import DatasetError, item_fields
from core.errors import ConfigError, NonFiniteLossError
from core.models import DataInfo, ModelSpec, Phase, StepContext, available_models, get_model_spec, seeded_noise
from core.resolve import build_config, config_differences, load_config

__all__ = ["ConfigError", "NonFiniteLossError", "batch_indices", "main", "train"]


# ----------------------------------------------------------------------------------------------
# devices, distributed, seeds

def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but CUDA is not available; use --device cpu or auto")
    return torch.device(name)


def dist_info() -> tuple[int, int]:
    """(rank, world size); world size 1 outside ``torchrun``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _init_distributed(device: torch.device) -> torch.device:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        if device.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state(gen: torch.Generator) -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": _to_lists(random.getstate()),
        "data": gen.get_state(),
    }


def _set_rng_state(s: dict, gen: torch.Generator) -> None:
    torch.set_rng_state(s["torch"])
    if s["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])
    n = s["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), *n[2:]))
    random.setstate(_to_tuples(s["python"]))
    gen.set_state(s["data"])


def _to_lists(x):
    return [_to_lists(v) for v in x] if isinstance(x, (tuple, list)) else x


def _to_tuples(x):
    return tuple(_to_tuples(v) for v in x) if isinstance(x, (tuple, list)) else x


# ----------------------------------------------------------------------------------------------
# data

def batch_indices(step: int, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """Indices of the batch at global ``step``: a per-epoch permutation of ``n`` seeded by
    (``seed``, epoch), sharded by rank, cut into full batches. A pure function of its arguments,
    so resuming at any step needs no sampler state."""
    per_rank = n // world
    per_epoch = per_rank // batch_size
    if per_epoch < 1:
        raise ConfigError(f"dataset of {n} images is smaller than one batch of {batch_size} per process; "
                          f"lower batch_size (--set batch_size=...)")
    epoch, i = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    mine = perm[rank: per_rank * world: world]
    return mine[i * batch_size: (i + 1) * batch_size]


_TENSOR_KEYS = ("image", "normals", "mask")


def batch_keys(spec, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The item entries a model's batches need: the image, the label, the normals of a structure
    condition and whatever else the model declares (``ModelSpec.batch_keys``)."""
    keys = ["image", "label"] + (["normals"] if "structure" in kinds else []) + list(spec.batch_keys)
    return tuple(dict.fromkeys(keys))


def collate(dataset, index: torch.Tensor, keys: tuple[str, ...] = _TENSOR_KEYS) -> dict:
    """``{key: [B, ...]}`` for the tensor entries ``keys`` of the items ``index`` ``[B]`` (those a
    dataset has), plus ``label`` ``[B]`` and ``index``; only those entries are read from the dataset."""
    items = [item_fields(dataset, int(i), tuple(keys) + ("label",)) for i in index]
    batch = {k: torch.stack([it[k] for it in items]) for k in keys if k in _TENSOR_KEYS and k in items[0]}
    batch["label"] = torch.tensor([int(it["label"]) for it in items])
    batch["index"] = index.clone()
    return batch


def load_training_data(cfg: TrainConfig):
    """The training split of ``cfg.dataset`` (``cfg.dataset_size``: only its first items)."""
    from core.data import load_dataset

    opts = {"size": cfg.dataset_size} if cfg.dataset_size else {}
    return load_dataset(cfg.dataset, split="train", resolution=cfg.resolution, root=cfg.dataset_root,
                        seed=cfg.dataset_seed, **opts)


class DeviceData:
    """Every training item's batch entries decoded once into tensors on ``device``, so a batch is an
    index into them: the same values as :func:`collate` (items are a function of their index), without
    per-step decoding or host-to-device copies."""

    def __init__(self, dataset, keys: tuple[str, ...], device: torch.device, progress: bool = False):
        n = len(dataset)
        first = item_fields(dataset, 0, tuple(keys) + ("label",))
        self.tensors = {k: torch.empty((n, *first[k].shape), dtype=first[k].dtype)
                        for k in keys if k in _TENSOR_KEYS and k in first}  # {key: [N, ...]}
        labels = torch.empty(n, dtype=torch.long)
        for i in tqdm(range(n), desc="data to device", disable=not progress, unit="item"):
            item = first if i == 0 else item_fields(dataset, i, tuple(keys) + ("label",))
            for k, t in self.tensors.items():
                t[i] = item[k]
            labels[i] = int(item["label"])
        self.tensors = {k: t.to(device) for k, t in self.tensors.items()}
        self.tensors["label"] = labels.to(device)
        self.device = device

    def batch(self, index: torch.Tensor) -> dict:
        i = index.to(self.device)
        return {**{k: t[i] for k, t in self.tensors.items()}, "index": i}


def _host_losses(losses: dict, step: int) -> dict[str, float]:
    """Losses as floats (one host sync when they are still tensors); raises on a non-finite one."""
    out = {k: float(v) for k, v in losses.items()}
    for k, v in out.items():
        if k.startswith("loss_") and not math.isfinite(v):
            raise NonFiniteLossError(k, v, step, deferred=True)
    return out


def autocast_for(cfg: TrainConfig, device: torch.device):
    """The step's autocast: bf16 on CUDA when ``cfg.bf16``, otherwise nothing (a context factory)."""
    if cfg.bf16 and device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def checks_each_step(cfg: TrainConfig, device: torch.device) -> bool:
    """Whether each loss is read back (and checked) inside the step: ``finite_check`` "step", or "auto" on
    CPU; otherwise losses are checked at log and checkpoint steps (no host sync inside a GPU step)."""
    if cfg.finite_check not in ("auto", "step", "log"):
        raise ConfigError(f"finite_check must be 'auto', 'step' or 'log', got {cfg.finite_check!r}")
    return cfg.finite_check == "step" or (cfg.finite_check == "auto" and device.type == "cpu")


# ----------------------------------------------------------------------------------------------
# model assembly

def build_model(cfg: TrainConfig, info: DataInfo) -> nn.Module:
    spec = get_model_spec(cfg.model_name)
    torch.manual_seed(cfg.model_seed)
    return spec.build(cfg.model, info)


def _load_into(model: nn.Module, name: str, checkpoint: str, source: str, what: str) -> None:
    try:
        load_submodule(model, name, checkpoint, source)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(f"{what}: {e}") from e


def init_submodules(model: nn.Module, checkpoint: str, names: tuple[str, ...]) -> None:
    """Initialise the named sub-networks of ``model`` from another run's checkpoint (e.g. a
    Stage-II run starting from a trained Stage-I), so nothing is trained twice."""
    if not names:
        raise ConfigError("init_from needs init_modules: the names of the sub-networks to copy")
    for name in names:
        _load_into(model, name, checkpoint, name, f"init_from {checkpoint}")


def frozen_networks(cfg: TrainConfig) -> dict[str, tuple[str, str]]:
    """``{sub-network: (checkpoint, source name)}`` from ``cfg.frozen``, after checking that every
    sub-network the model needs pretrained is given and that no phase trains a frozen one.

    Raises:
        ConfigError: a malformed entry, a missing pretrained network, or a phase training a frozen one.
    """
    spec = get_model_spec(cfg.model_name)
    frozen = {}
    for entry in cfg.frozen:
        try:
            name, path, source = parse_frozen(entry)
        except ValueError as e:
            raise ConfigError(str(e)) from e
        frozen[name] = (path, source)
    needed = [n for n in spec.pretrained(cfg.model) if n not in frozen]
    if needed:
        example = ", ".join(f'"{n}=<checkpoint or run dir>[:<its name there>]"' for n in needed)
        raise ConfigError(f"{cfg.model_name} needs pretrained, frozen sub-network(s) {needed} loaded from another "
                          f"checkpoint: pass --set 'frozen=[{example}]'")
    for phase in spec.phases(cfg):
        trained = sorted(phase.trainable() & set(frozen))
        if trained:
            raise ConfigError(f"phase {phase.name!r} trains {trained}, which cfg.frozen loads as frozen networks")
    return frozen


def _set_phase(model: nn.Module, phase: Phase) -> None:
    """Frozen sub-networks: no gradients and eval mode; trainable ones: train mode."""
    trainable = phase.trainable()
    for name, module in model.named_children():
        learn = name in trainable
        module.requires_grad_(learn)
        module.train(learn)


def _make_optimizers(model: nn.Module, phase: Phase) -> dict[str, torch.optim.Optimizer]:
    """The phase's optimizers, each over the parameters of the sub-networks it declares."""
    children = dict(model.named_children())
    opts = {}
    for role, opt in phase.optimize.items():
        missing = [n for n in opt.modules if n not in children]
        if missing:
            raise ConfigError(f"phase {phase.name!r}, optimizer {role!r}: no sub-network(s) {missing}; "
                              f"the model has {sorted(children)}")
        opts[role] = opt.build([(f"{n}.{k}", p) for n in opt.modules for k, p in children[n].named_parameters()])
    return opts


# ----------------------------------------------------------------------------------------------
# sample grids

def grid_items(n_items: int, n: int = 8) -> torch.Tensor:
    """``[n]`` items spread over the dataset whose conditions the sample grids show (fixed for a run)."""
    return torch.linspace(0, n_items - 1, n).long()


@torch.no_grad()
def save_sample_grid(spec, model, cfg, cond: dict, path: Path, per_row: int = 8, rows: int = 8) -> None:
    """A grid of one row per condition × ``per_row`` seeds (``eval_seed`` onwards, the same on every
    row); an unconditional model (``cond == {}``) gets ``rows · per_row`` distinct seeds."""
    from torchvision.utils import save_image

    was = {n: m.training for n, m in model.named_children()}
    model.eval()
    shapes = spec.noise_shapes(cfg.model)
    device = next(model.parameters()).device
    if cond:
        n = next(iter(cond.values())).shape[0]
        noise = seeded_noise(shapes, range(cfg.eval_seed, cfg.eval_seed + per_row))
        noise = {k: v.repeat(n, *([1] * (v.dim() - 1))) for k, v in noise.items()}
        c = {k: v.repeat_interleave(per_row, 0).to(device) for k, v in cond.items()}  # [n·k, ...] row = condition
    else:
        noise, c = seeded_noise(shapes, range(cfg.eval_seed, cfg.eval_seed + rows * per_row)), {}
    out = spec.generate(model, c, {k: v.to(device) for k, v in noise.items()})
    imgs = out["image"].float()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(imgs.add(1).div(2).clamp(0, 1), str(path), nrow=per_row, padding=1)
    for name, m in model.named_children():
        m.train(was[name])


# ----------------------------------------------------------------------------------------------
# the loop

def _logger(run_dir: Path, resume_step: int | None):
    """JSONL log; on resume, drop entries after the checkpoint's step (they are re-done)."""
    path = run_dir / "log.jsonl"
    if resume_step is not None and path.exists():
        keep = [l for l in path.read_text().splitlines() if l and json.loads(l)["step"] <= resume_step]
        path.write_text("".join(l + "\n" for l in keep))
    return path


# Fields a resumed run may take from the command line although they differ from the stored config:
# where it runs, not what it computes.
RESUME_MAY_CHANGE = ("device", "num_workers")


def _resume_config(stored: TrainConfig, given: TrainConfig, run_dir: Path) -> TrainConfig:
    """The config a resumed run continues with: the stored one, except for :data:`RESUME_MAY_CHANGE`.
    A ``num_threads`` of 0 (auto) in ``given`` takes the stored count (thread counts change float results).

    Raises:
        ConfigError: the given config would train something else (the message lists the differences).
    """
    keep = {k: getattr(given, k) for k in RESUME_MAY_CHANGE}
    if given.num_threads == 0:
        given = dataclasses.replace(given, num_threads=stored.num_threads)
    aligned = dataclasses.replace(given, **{k: getattr(stored, k) for k in RESUME_MAY_CHANGE})
    diff = config_differences(stored, aligned)
    if diff:
        raise ConfigError(f"--resume: run {run_dir} was started with another config ({'; '.join(diff)}). Resume "
                          f"with the same settings, or train into a new --out")
    resumed = dataclasses.replace(stored, num_threads=stored.num_threads or given.num_threads, **keep)
    ignored = [d for d in dict_differences(stored.to_dict(), aligned.to_dict()) if not d.startswith("num_threads:")]
    if ignored:
        print(f"note: --resume keeps the stored values of fields this model does not use ({'; '.join(ignored)})",
              file=sys.stderr)
    return resumed


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True,
          step_hook=None, data_hook=None) -> Path:
    """Train ``cfg`` into run directory ``out``; return it. Runs with ``cfg.num_threads`` torch threads
    and gives the caller's thread count back afterwards.

    Args:
        cfg: the resolved run configuration.
        out: run directory. It must not exist (or be empty) unless ``resume`` is set.
        resume: continue from the latest checkpoint in ``out``. The config must match the stored one
            (only :data:`RESUME_MAY_CHANGE` may differ); a directory without checkpoints starts afresh.
        progress: show a tqdm progress bar (rank 0 only).
        step_hook: optional ``fn(global_step, losses)`` called after each step (tests, benchmarks); once it
            returns ``False`` it is called no more (so a hook that only wants the first steps costs no
            host sync after them).
        data_hook: optional ``fn(dataset, keys, conditions)`` called once the training split, the item
            entries its batches read (``keys``) and its :class:`~core.conditioning.BatchConditions` are
            loaded, before the first step (the benchmark hashes what a run trained on).
    Raises:
        ConfigError: bad config, a dataset that lacks the model's condition, a differing config on
            resume, or ``out`` exists without ``resume``.
        DatasetError: the dataset cannot be read.
        NonFiniteLossError: a loss became NaN/inf.
    """
    threads = torch.get_num_threads()
    try:
        return _train(cfg, out, resume, progress, step_hook, data_hook)
    finally:
        torch.set_num_threads(threads)


# The three parts of a run: prepare (config, data, conditions), build (model, seeds, weights; each
# phase's optimizers and wrapped nets), run (the phases' steps, logs, samples, checkpoints).

@dataclasses.dataclass
class _Prepared:
    """What a run trains, on what data and where: everything resolved before a network is built."""

    cfg: TrainConfig                  # the resolved config (the stored one on resume)
    run_dir: Path
    device: torch.device
    rank: int
    world: int
    spec: ModelSpec
    dataset: object                   # the training split
    kinds: tuple[str, ...]            # the model's condition kinds
    conds: BatchConditions
    keys: tuple[str, ...]             # the item entries batches read
    on_device: DeviceData | None      # every item on the device (cfg.data_on_device), else None
    info: DataInfo
    frozen: dict[str, tuple[str, str]]  # {sub-network: (checkpoint, source name)}
    start_ckpt: Path | None           # the checkpoint a resumed run continues from
    check_each_step: bool


@dataclasses.dataclass
class _Loop:
    """The bookkeeping of the step loop that is not the model's: progress, log, grids, hook."""

    total: int                        # steps over all phases
    log_path: Path | None             # rank 0 only
    fixed_cond: dict                  # the sample grids' conditions, on the device
    meta: dict                        # stored with every checkpoint
    bar: tqdm
    t0: float
    step_hook: object                 # fn(global_step, losses), or None once it returned False


def _train(cfg: TrainConfig, out: str | Path, resume: bool, progress: bool, step_hook, data_hook) -> Path:
    run = _prepare(cfg, out, resume, progress, data_hook)
    model = _build_model(run)
    gen, step, opt_states = _start_state(run, model)
    _run_phases(run, model, gen, step, opt_states, progress, step_hook)
    return run.run_dir


# ---- prepare

def _condition_config(cfg: TrainConfig, kinds: tuple[str, ...], dataset, rank: int) -> TrainConfig:
    """``cfg`` with its condition settings resolved against ``dataset``: the text encoder a text-conditioned
    run really uses (``auto``, or a release with embeddings but no caption text); other kinds need none."""
    if "text" not in kinds:
        return cfg
    encoder, note = resolve_text_encoder(cfg.text_encoder, dataset, cfg.dataset)
    if note and rank == 0:
        print(f"note: {note}", file=sys.stderr)
    return dataclasses.replace(cfg, text_encoder=encoder)


def _resume_point(cfg: TrainConfig, run_dir: Path, resume: bool) -> tuple[TrainConfig, Path | None]:
    """(the config to run, the checkpoint to continue from or None).

    Raises:
        ConfigError: ``run_dir`` has files but ``resume`` is off, or the stored config differs.
    """
    if resume:
        found = list_checkpoints(run_dir)
        if not found:
            return cfg, None
        start_ckpt = found[-1][1]
        stored = load_config(json.loads((start_ckpt / "config.json").read_text())["config"])
        return _resume_config(stored, cfg, run_dir), start_ckpt
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"run directory {run_dir} already exists; choose a new --out or pass --resume")
    return cfg, None


def _set_threads(cfg: TrainConfig) -> TrainConfig:
    """Set torch's thread count to ``cfg.num_threads`` (0: the current count, written into the config)."""
    if cfg.num_threads == 0:
        cfg = dataclasses.replace(cfg, num_threads=torch.get_num_threads())
    if cfg.num_threads < 1:
        raise ConfigError(f"num_threads must be >= 1 (or 0 for the current count), got {cfg.num_threads}")
    torch.set_num_threads(cfg.num_threads)
    return cfg


def _prepare(cfg: TrainConfig, out: str | Path, resume: bool, progress: bool, data_hook) -> _Prepared:
    """Resolve the config, check and create the run directory, load the data and its conditions."""
    run_dir = Path(out)
    device = _init_distributed(resolve_device(cfg.device))
    rank, world = dist_info()
    spec = get_model_spec(cfg.model_name)
    dataset = load_training_data(cfg)
    kinds = spec.condition_kinds(cfg.model)
    cfg = _condition_config(cfg, kinds, dataset, rank)
    cfg, start_ckpt = _resume_point(cfg, run_dir, resume)
    cfg = _set_threads(cfg)
    frozen = frozen_networks(cfg)
    if world > 1:
        dist.barrier()  # every rank has checked the directory before rank 0 creates it
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(cfg.to_json())

    conds = BatchConditions(dataset, kinds, spec.mismatched, cfg.text_encoder, cfg.dataset)
    keys = batch_keys(spec, kinds)
    if data_hook is not None:
        data_hook(dataset, keys, conds)
    check_each_step = checks_each_step(cfg, device)
    on_device = DeviceData(dataset, keys, device, progress and rank == 0) if cfg.data_on_device else None
    sample = dataset[0]
    info = DataInfo(channels=sample["image"].shape[0], resolution=cfg.resolution, embed_dim=conds.embed_dim,
                    num_classes=conds.num_classes, structure_channels=conds.structure_channels)
    return _Prepared(cfg=cfg, run_dir=run_dir, device=device, rank=rank, world=world, spec=spec, dataset=dataset,
                     kinds=kinds, conds=conds, keys=keys, on_device=on_device, info=info, frozen=frozen,
                     start_ckpt=start_ckpt, check_each_step=check_each_step)


# ---- build

def _build_model(run: _Prepared) -> nn.Module:
    """The model on the run's device (seeded by ``model_seed``), channels-last when the config says so."""
    model = build_model(run.cfg, run.info).to(run.device)
    if run.cfg.channels_last:  # CPU too: measured by bench.perf; changes float results, so it is a config field
        model = model.to(memory_format=torch.channels_last)
    return model


def _seed_run(cfg: TrainConfig, rank: int) -> torch.Generator:
    """Seed torch, numpy and python for the steps (after the model is built) and return the condition
    sampler's generator."""
    gen = torch.Generator()
    seed_everything(cfg.model_seed + 1_000 * rank)
    gen.manual_seed(cfg.data_seed * 7919 + rank)
    return gen


def _start_state(run: _Prepared, model: nn.Module) -> tuple[torch.Generator, int, dict | None]:
    """(condition generator, first global step, optimizer states to load or None). A fresh run loads
    ``init_from`` and the frozen networks; a resumed one its checkpoint's weights, step and RNG states."""
    cfg = run.cfg
    gen = _seed_run(cfg, run.rank)
    if run.start_ckpt is None:
        if cfg.init_from:
            init_submodules(model, cfg.init_from, cfg.init_modules)
        for name, (path, source) in run.frozen.items():
            _load_into(model, name, path, source, f"frozen network {name!r}")
        return gen, 0, None
    load_weights(run.start_ckpt, model)
    state = load_training_state(run.start_ckpt)
    _set_rng_state(state["rng"][run.rank] if isinstance(state["rng"], list) else state["rng"], gen)
    return gen, int(state["step"]), state["optimizers"]


def _phase_optimizers(model: nn.Module, phase: Phase, opt_states: dict | None) -> dict[str, torch.optim.Optimizer]:
    """The phase's optimizers, with ``opt_states`` (a resumed run's first phase) loaded into them."""
    opts = _make_optimizers(model, phase)
    for role, s in (opt_states or {}).items():
        opts[role].load_state_dict(s)
    return opts


def _phase_nets(model: nn.Module, phase: Phase, cfg: TrainConfig, device: torch.device,
                world: int) -> tuple[dict[str, nn.Module], dict[str, nn.Module]]:
    """(the sub-networks a step calls: the phase's trainable ones DDP-wrapped when distributed, the same
    never wrapped), both compiled when ``cfg.compile``."""
    modules = dict(model.named_children())
    nets = dict(modules)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        for name in sorted(phase.trainable()):  # same order on every rank
            nets[name] = DDP(getattr(model, name), device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        nets = {name: torch.compile(m) for name, m in nets.items()}
        modules = {name: torch.compile(m) for name, m in modules.items()}
    return nets, modules


# ---- run

def _schedulers(opts: dict[str, torch.optim.Optimizer], phase: Phase, phase_step: int) -> dict[str, LambdaLR]:
    """One ``LambdaLR`` per optimizer, set to ``phase_step``: a group's rate is ``(Optim.lr · lr_scale) ·
    factor(t)``, where ``factor`` is the :class:`Optim`'s schedule (decay, warm-ups) at rate 1, which is
    exactly 1.0 where nothing applies. Rebuilt from the step counter, not saved: a resumed run gets the
    rate of its phase step whatever the checkpoint's groups hold (``initial_lr`` is set before the
    scheduler reads it). Equal to the bit to the declared ``Optim.lr_at(t) · lr_scale`` in every preset
    (tests/test_train.py); float products do not associate, so a schedule combined with ``lr_scale`` ≠ 1,
    or a linear warm-up with ``warmup_factors``, may differ in the last bit (no preset has either)."""
    scheds = {}
    for role, opt in opts.items():
        declared = phase.optimize[role]
        for g in opt.param_groups:
            g["initial_lr"] = declared.lr * g.get("lr_scale", 1.0)
        factor = dataclasses.replace(declared, lr=1.0).lr_at  # phase step (from 0) -> factor
        scheds[role] = LambdaLR(opt, factor, last_epoch=phase_step - 1)  # its first step sets phase_step's rate
    return scheds


def _rates(scheds: dict[str, LambdaLR], phase: Phase) -> dict[str, float]:
    """``{"lr_<role>": rate}`` for the log: each role's declared rate at the schedulers' phase step (a group
    with ``lr_scale`` s learns at s × it)."""
    return {f"lr_{role}": phase.optimize[role].lr * s.lr_lambdas[0](s.last_epoch) for role, s in scheds.items()}


def _step_schedulers(scheds: dict[str, LambdaLR]) -> None:
    """Move every rate on to the next phase step, whether or not its optimizer stepped: an update that a
    model skips (S²-GAN's margin rule) still counts for the warm-up, as the reference counts it
    (``adversarial_ct.lua``; docs/s2gan.md)."""
    with warnings.catch_warnings():
        # torch warns when a scheduler's first step comes before its optimizer's first: by design here
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before",
                                category=UserWarning)
        for s in scheds.values():
            s.step()


def _next_batch(run: _Prepared, step: int, gen: torch.Generator) -> dict:
    """The batch of global ``step`` with its conditions, on the device."""
    index = batch_indices(step, len(run.dataset), run.cfg.batch_size, run.cfg.data_seed, run.rank, run.world)
    batch = run.on_device.batch(index) if run.on_device is not None else collate(run.dataset, index, run.keys)
    batch = run.conds.add(batch, index, gen)
    batch = {k: v.to(run.device, non_blocking=True) for k, v in batch.items()}
    if run.cfg.channels_last:
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
    return batch


def _start_loop(run: _Prepared, step: int, total: int, progress: bool, step_hook) -> _Loop:
    cfg = run.cfg
    log_path = _logger(run.run_dir, step if run.start_ckpt is not None else None) if run.rank == 0 else None
    fixed_cond = {k: v.to(run.device) for k, v in run.conds.items(grid_items(len(run.dataset))).items()}
    meta = {"git_sha": git_sha(), "seeds": {"model": cfg.model_seed, "data": cfg.data_seed, "eval": cfg.eval_seed},
            "data_info": dataclasses.asdict(run.info), "conditions": list(run.kinds)}
    bar = tqdm(total=total, initial=step, disable=not progress or run.rank != 0, dynamic_ncols=True,
               desc=f"{cfg.model_name}")
    return _Loop(total=total, log_path=log_path, fixed_cond=fixed_cond, meta=meta, bar=bar, t0=time.time(),
                 step_hook=step_hook)


def _run_phases(run: _Prepared, model: nn.Module, gen: torch.Generator, step: int, opt_states: dict | None,
                progress: bool, step_hook) -> None:
    """Run every phase from global ``step`` on (phases a resumed run has finished are skipped)."""
    phases = run.spec.phases(run.cfg)
    loop = _start_loop(run, step, sum(p.steps for p in phases), progress, step_hook)
    phase_start = 0
    for phase in phases:
        phase_end = phase_start + phase.steps
        if step < phase_end:
            # a checkpoint's optimizer states belong to the phase it was written in: a run resumed at a
            # phase's first step (from the previous phase's last checkpoint) starts it with fresh optimizers
            resumed = opt_states if step > phase_start else None
            step = _run_phase(run, loop, model, gen, phase, phase_start, step, resumed)
            opt_states = None
        phase_start = phase_end
    loop.bar.close()
    if run.rank == 0:
        with open(run.run_dir / "log.jsonl", "a") as f:
            f.write(json.dumps({"step": step, "event": "done", "wall_time_s": round(time.time() - loop.t0, 2),
                                "world_size": run.world}) + "\n")


def _run_phase(run: _Prepared, loop: _Loop, model: nn.Module, gen: torch.Generator, phase: Phase,
               phase_start: int, step: int, opt_states: dict | None) -> int:
    """Run ``phase`` from global ``step`` to its end; return the step reached."""
    cfg, spec = run.cfg, run.spec
    phase_end = phase_start + phase.steps
    _set_phase(model, phase)
    opts = _phase_optimizers(model, phase, opt_states)
    scheds = _schedulers(opts, phase, step - phase_start)
    nets, modules = _phase_nets(model, phase, cfg, run.device, run.world)
    autocast = autocast_for(cfg, run.device)
    loop.bar.set_description(f"{cfg.model_name}:{phase.name}")
    while step < phase_end:
        lrs = _rates(scheds, phase)
        batch = _next_batch(run, step, gen)
        ctx = StepContext(nets, opts, phase, step - phase_start, cfg, autocast, global_step=step, modules=modules,
                          check_finite=run.check_each_step)
        spec.train_step(batch, ctx)
        _step_schedulers(scheds)
        step += 1
        loop.bar.update(1)
        milestone = step == phase_end
        logging = step % cfg.log_every == 0 or milestone
        if logging or step % cfg.checkpoint_every == 0 or loop.step_hook is not None:
            ctx.losses = _host_losses(ctx.losses, step)  # deferred check: before any log or checkpoint
        if loop.step_hook is not None and loop.step_hook(step, ctx.losses) is False:
            loop.step_hook = None  # the hook wants no more steps
        if run.rank == 0:
            _record(run, loop, model, phase, step, ctx.losses, lrs, logging)
        if step % cfg.checkpoint_every == 0 or milestone:
            _save(run.run_dir, model, cfg, loop.meta, step, phase, opts, gen, run.rank, run.world,
                  name=("final" if step == loop.total else f"phase-{phase.name}") if milestone else None)
    return step


def _record(run: _Prepared, loop: _Loop, model: nn.Module, phase: Phase, step: int, losses: dict, lrs: dict,
            logging: bool) -> None:
    """Rank 0 after a step: the log line (when ``logging``) and the sample grid (at ``sample_every``)."""
    cfg = run.cfg
    if logging:
        loop.bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if k.startswith("loss")})
        rec = {"step": step, "phase": phase.name, "time": round(time.time() - loop.t0, 3), **lrs, **losses}
        with open(loop.log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
    if run.spec.generate is not None and (step % cfg.sample_every == 0 or step == loop.total):
        save_sample_grid(run.spec, model, cfg, loop.fixed_cond, run.run_dir / "samples" / f"step_{step:07d}.png")


def _save(run_dir, model, cfg, meta, step, phase, opts, gen, rank, world, name=None):
    rng = _rng_state(gen)
    if world > 1:
        gathered = [None] * world
        dist.all_gather_object(gathered, rng)
        rng = gathered
    if rank != 0:
        return
    state = {"step": step, "optimizers": {r: o.state_dict() for r, o in opts.items()}, "rng": rng}
    full_meta = {**meta, "config": cfg.to_dict(), "step": step, "phase": phase.name}
    ckpt_root = run_dir / "checkpoints"
    write_checkpoint(ckpt_root / f"step_{step:07d}", model, full_meta, state)
    if name is not None:
        write_checkpoint(ckpt_root / name, model, full_meta, state)
    periodic = [p for _, p in list_checkpoints(run_dir) if p.name.startswith("step_")]
    for old in periodic[: max(0, len(periodic) - cfg.keep_last)]:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# CLI

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.train", description="Train a stacked GAN.")
    p.add_argument("--model", required=True, choices=available_models())
    p.add_argument("--dataset", default=None, help="dataset name (default: the preset's, usually shapes)")
    p.add_argument("--root", default=None, help="dataset root for real datasets")
    p.add_argument("--preset", default="quick", choices=["smoke", "quick", "paper"])
    p.add_argument("--out", default=None, help="run directory (default runs/<model>-<dataset>-<preset>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint "
                                                         "(with the same settings it was started with)")
    p.add_argument("--seed", type=int, default=None, help="model seed (data seed follows unless --data-seed)")
    p.add_argument("--data-seed", type=int, default=None)
    p.add_argument("--device", default=None, help="auto | cpu | cuda")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set batch_size=32 --set model.ngf=64")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--no-progress", action="store_true")
    return p


def config_from_args(args) -> TrainConfig:
    fields_ = {}
    if args.dataset:
        fields_["dataset"] = args.dataset
    if args.root:
        fields_["dataset_root"] = args.root
    if args.seed is not None:
        fields_["model_seed"] = args.seed
        fields_["data_seed"] = args.seed if args.data_seed is None else args.data_seed
    elif args.data_seed is not None:
        fields_["data_seed"] = args.data_seed
    if args.device:
        fields_["device"] = args.device
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        overrides[k.strip()] = parse_value(v)
    return build_config(args.model, args.preset, overrides, **fields_)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(cfg.to_json())
        return 0
    out = args.out or f"runs/{cfg.model_name}-{cfg.dataset}-{cfg.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        run_dir = train(cfg, out, resume=args.resume, progress=not args.no_progress)
    except (ConfigError, DatasetError, NonFiniteLossError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"done: {run_dir} (final checkpoint: {find_checkpoint(run_dir)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

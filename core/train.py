"""The one training loop for every stacked GAN (``python -m core.train``).

What differs between models lives in their :class:`core.models.base.ModelSpec`; this module owns
data, optimizers, phases, checkpoints, exact resume, logging, sample grids, devices and DDP.

Exact resume: the data order is a pure function of (data seed, step), and the RNG states of
torch, numpy, python and the caption sampler are saved with every checkpoint, so a run killed at
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
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from core.checkpoint import (find_checkpoint, git_sha, list_checkpoints, load_training_state, load_weights,
                             write_checkpoint)
from core.conditioning import build_text_conditions
from core.config import ConfigError, TrainConfig, build_config, parse_value
from core.models import DataInfo, Phase, StepContext, available_models, get_model_spec
from core.pipeline import seeded_noise


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/inf; the run stops before the bad update, leaving the last checkpoint intact."""

    def __init__(self, name: str, value: float, step: int):
        self.name, self.value, self.step = name, value, step
        super().__init__(
            f"{name} became {value} at step {step}: training stopped before applying this update. "
            f"The last good checkpoint is intact; resume from it with --resume after lowering the learning "
            f"rates (--set lr_g=... --set lr_d=...) or checking the data.")


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
        raise ConfigError(f"dataset of {n} images is smaller than one batch of {batch_size} per process")
    epoch, i = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    mine = perm[rank: per_rank * world: world]
    return mine[i * batch_size: (i + 1) * batch_size]


_TENSOR_KEYS = ("image", "normals", "mask")


def collate(dataset, index: torch.Tensor) -> dict:
    items = [dataset[int(i)] for i in index]
    batch = {k: torch.stack([it[k] for it in items]) for k in _TENSOR_KEYS if k in items[0]}
    batch["label"] = torch.tensor([int(it["label"]) for it in items])
    batch["index"] = index.clone()
    return batch


def load_training_data(cfg: TrainConfig):
    from core.data import load_dataset

    opts = {"size": cfg.dataset_size} if cfg.dataset_size else {}
    return load_dataset(cfg.dataset, split="train", resolution=cfg.resolution, root=cfg.dataset_root,
                        seed=cfg.dataset_seed, **opts)


# ----------------------------------------------------------------------------------------------
# model assembly (shared with core.pipeline)

def build_model(cfg: TrainConfig, info: DataInfo) -> nn.Module:
    spec = get_model_spec(cfg.model_name)
    torch.manual_seed(cfg.model_seed)
    return spec.build(cfg.model, info)


def init_submodules(model: nn.Module, checkpoint: str, names: tuple[str, ...]) -> None:
    """Initialise the named sub-networks of ``model`` from another run's checkpoint (e.g. a
    Stage-II run starting from a trained Stage-I), so nothing is trained twice."""
    from safetensors.torch import load_file

    ckpt = find_checkpoint(Path(checkpoint))
    state = load_file(str(ckpt / "model.safetensors"))
    if not names:
        raise ConfigError("init_from needs init_modules: the names of the sub-networks to copy")
    for name in names:
        part = {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")}
        if not part:
            raise ConfigError(f"checkpoint {ckpt} has no sub-network {name!r}")
        getattr(model, name).load_state_dict(part, strict=True)


def _set_phase(model: nn.Module, phase: Phase) -> None:
    """Frozen sub-networks: no gradients and eval mode; trainable ones: train mode."""
    trainable = phase.trainable()
    for name, module in model.named_children():
        learn = name in trainable
        module.requires_grad_(learn)
        module.train(learn)


def _lr_scale(cfg: TrainConfig, phase_step: int) -> float:
    return 0.5 ** (phase_step // cfg.lr_decay_every) if cfg.lr_decay_every > 0 else 1.0


def _make_optimizers(cfg: TrainConfig, model: nn.Module, phase: Phase) -> dict[str, torch.optim.Optimizer]:
    opts = {}
    for role, names in phase.optimize.items():
        params = [p for n in names for p in getattr(model, n).parameters()]
        lr = cfg.lr_d if role == "d" else cfg.lr_g
        opts[role] = torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2))
    return opts


# ----------------------------------------------------------------------------------------------
# sample grids

def eval_conditions(dataset, conds, n: int = 8) -> torch.Tensor:
    """``[n, E]``: the first caption of ``n`` images spread over the dataset (fixed for a run)."""
    idx = torch.linspace(0, len(dataset) - 1, n).long()
    return conds.table[idx, 0]


@torch.no_grad()
def save_sample_grid(spec, model, cfg, emb: torch.Tensor, path: Path, per_caption: int = 8) -> None:
    from torchvision.utils import save_image

    was = {n: m.training for n, m in model.named_children()}
    model.eval()
    n = emb.shape[0]
    noise = seeded_noise(spec.noise_shapes(cfg.model), range(cfg.eval_seed, cfg.eval_seed + per_caption))
    e = emb.repeat_interleave(per_caption, 0)  # [n·k, E] row = caption
    noise = {k: v.repeat(n, *([1] * (v.dim() - 1))).to(e.device) for k, v in noise.items()}
    out = spec.generate(model, e, noise)
    imgs = out["image"].float()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(imgs.add(1).div(2).clamp(0, 1), str(path), nrow=per_caption, padding=1)
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


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True,
          step_hook=None) -> Path:
    """Train ``cfg`` into run directory ``out``; return it.

    Args:
        cfg: the resolved run configuration.
        out: run directory. It must not exist (or be empty) unless ``resume`` is set.
        resume: continue from the latest checkpoint in ``out`` (with the config stored there).
        progress: show a tqdm progress bar (rank 0 only).
        step_hook: optional ``fn(global_step, losses)`` called after each step (tests, benchmarks).
    Raises:
        ConfigError: bad config, or ``out`` exists without ``resume``.
        NonFiniteLossError: a loss became NaN/inf.
    """
    run_dir = Path(out)
    device = _init_distributed(resolve_device(cfg.device))
    rank, world = dist_info()
    spec = get_model_spec(cfg.model_name)

    start_ckpt = None
    if resume:
        found = list_checkpoints(run_dir)
        if found:
            start_ckpt = found[-1][1]
            stored = TrainConfig.from_dict(json.loads((start_ckpt / "config.json").read_text())["config"])
            if stored.to_dict() != cfg.to_dict():
                cfg = stored  # the run's own config wins; a resumed run never changes its settings
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"run directory {run_dir} already exists; choose a new --out or pass --resume")
    if world > 1:
        dist.barrier()  # every rank has checked the directory before rank 0 creates it
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(cfg.to_json())

    dataset = load_training_data(cfg)
    conds = build_text_conditions(dataset, cfg.text_encoder)
    sample = dataset[0]
    info = DataInfo(channels=sample["image"].shape[0], resolution=cfg.resolution,
                    embed_dim=conds.embed_dim, num_classes=int(conds.labels.max()) + 1)
    model = build_model(cfg, info).to(device)
    if cfg.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    phases = spec.phases(cfg.model)
    total = sum(p.steps for p in phases)

    gen = torch.Generator()
    seed_everything(cfg.model_seed + 1_000 * rank)
    gen.manual_seed(cfg.data_seed * 7919 + rank)
    step = 0
    opt_states = None
    if start_ckpt is None and cfg.init_from:
        init_submodules(model, cfg.init_from, cfg.init_modules)
    if start_ckpt is not None:
        load_weights(start_ckpt, model)
        state = load_training_state(start_ckpt)
        step = int(state["step"])
        opt_states = state["optimizers"]
        _set_rng_state(state["rng"][rank] if isinstance(state["rng"], list) else state["rng"], gen)
    log_path = _logger(run_dir, step if start_ckpt is not None else None) if rank == 0 else None

    def autocast():
        if cfg.bf16 and device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    fixed_emb = eval_conditions(dataset, conds).to(device)
    meta = {"git_sha": git_sha(), "seeds": {"model": cfg.model_seed, "data": cfg.data_seed, "eval": cfg.eval_seed},
            "data_info": dataclasses.asdict(info)}
    bar = tqdm(total=total, initial=step, disable=not progress or rank != 0, dynamic_ncols=True,
               desc=f"{cfg.model_name}")
    t0, phase_start = time.time(), 0
    for phase in phases:
        phase_end = phase_start + phase.steps
        if step >= phase_end:
            phase_start = phase_end
            continue
        _set_phase(model, phase)
        opts = _make_optimizers(cfg, model, phase)
        if opt_states is not None:
            for role, s in opt_states.items():
                opts[role].load_state_dict(s)
            opt_states = None
        nets = {name: m for name, m in model.named_children()}
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            for name in sorted(phase.trainable()):  # same order on every rank
                nets[name] = DDP(getattr(model, name), device_ids=[device.index] if device.type == "cuda" else None)
        bar.set_description(f"{cfg.model_name}:{phase.name}")
        while step < phase_end:
            for role, opt in opts.items():
                for g in opt.param_groups:
                    g["lr"] = (cfg.lr_d if role == "d" else cfg.lr_g) * _lr_scale(cfg, step - phase_start)
            index = batch_indices(step, len(dataset), cfg.batch_size, cfg.data_seed, rank, world)
            batch = collate(dataset, index)
            batch["embedding"] = conds.right(index, gen)
            batch["wrong_embedding"] = conds.wrong(index, gen)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            if cfg.channels_last and device.type == "cuda":
                batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
            ctx = StepContext(nets, opts, phase, step, cfg, autocast)
            spec.train_step(batch, ctx)
            step += 1
            bar.update(1)
            if step_hook is not None:
                step_hook(step, ctx.losses)
            if rank == 0:
                if step % cfg.log_every == 0 or step == phase_end:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in ctx.losses.items() if k.startswith("loss")})
                    rec = {"step": step, "phase": phase.name, "time": round(time.time() - t0, 3),
                           "lr_scale": _lr_scale(cfg, step - phase_start - 1), **ctx.losses}
                    with open(log_path, "a") as f:
                        f.write(json.dumps(rec) + "\n")
                if step % cfg.sample_every == 0 or step == total:
                    save_sample_grid(spec, model, cfg, fixed_emb, run_dir / "samples" / f"step_{step:07d}.png")
            milestone = step == phase_end
            if step % cfg.checkpoint_every == 0 or milestone:
                _save(run_dir, model, cfg, meta, step, phase, opts, gen, rank, world,
                      name=("final" if step == total else f"phase-{phase.name}") if milestone else None)
        phase_start = phase_end
    bar.close()
    if rank == 0:
        with open(run_dir / "log.jsonl", "a") as f:
            f.write(json.dumps({"step": step, "event": "done", "wall_time_s": round(time.time() - t0, 2),
                                "world_size": world}) + "\n")
    return run_dir


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
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
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
    except (ConfigError, NonFiniteLossError) as e:
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

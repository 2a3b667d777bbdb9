"""Checkpoints: a directory holding

- ``model.safetensors``: every weight and buffer of the model container;
- ``config.json``: ``{"config": <full TrainConfig>, "step", "phase", "seeds", "git_sha"}``, so a
  checkpoint alone rebuilds its model with no flags;
- ``training_state.pt`` (training checkpoints only): optimizer and RNG states, saved with
  ``torch.save`` and read back with ``weights_only=True`` (no pickled code is ever executed).

An *inference export* (:func:`export_for_inference`, ``python -m core.checkpoint export``) keeps only the
sub-networks that generate (e.g. the generators, not the discriminators), optionally in float16, and names them in
the safetensors metadata. A pipeline loads it (the other sub-networks keep their initial weights and are never
used to generate); training refuses it.

Each checkpoint is written into a temporary directory and renamed into place, so a crash
never leaves a half-written checkpoint under a final name.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "training_state.pt"


def git_sha(root: Path | None = None) -> str:
    """The repository's HEAD commit (with ``-dirty`` if a tracked file outside ``results/`` has changes), or
    ``unknown``. Files under ``results/`` are what runs write (a table's runs.csv, figures), so a run that
    appends to a committed runs.csv, or a figure script that redraws committed figures, does not mark its
    own later records dirty; a change to code, configs or docs does. ``root``: the repository (default:
    this one)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)results"], cwd=root, capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) if sha else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_checkpoint(path: Path, model: nn.Module, meta: dict, training_state: dict | None = None) -> Path:
    """Atomically write a checkpoint directory at ``path`` (replacing an older one of that name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / MODEL_FILE))
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        if training_state is not None:
            torch.save(training_state, tmp / STATE_FILE)
        if path.exists():  # replace: move the old one aside first, then drop it
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_meta(path: Path) -> dict:
    path = Path(path)
    f = path / CONFIG_FILE
    if not f.is_file():
        raise FileNotFoundError(f"{path} is not a checkpoint: {CONFIG_FILE} is missing "
                                f"(expected {MODEL_FILE} + {CONFIG_FILE}; pass a checkpoint or run directory)")
    return json.loads(f.read_text())


EXPORT_KEY = "inference_modules"  # safetensors metadata of an inference export: the sub-networks it keeps


def exported_modules(path: Path) -> list[str] | None:
    """The sub-networks an inference export keeps, or None for a full checkpoint."""
    with safe_open(str(Path(path) / MODEL_FILE), "pt") as f:
        kept = (f.metadata() or {}).get(EXPORT_KEY)
    return kept.split(",") if kept else None


def load_weights(path: Path, model: nn.Module, inference: bool = False) -> None:
    """Load ``model.safetensors`` into ``model`` (strict). An inference export loads only with ``inference``
    (a pipeline): each kept sub-network strictly, cast to the model's dtype; the rest keep their weights.

    Raises:
        ValueError: an inference export loaded for training.
    """
    f = Path(path) / MODEL_FILE
    if not f.is_file():
        raise FileNotFoundError(f"{f} is missing: the checkpoint is incomplete")
    kept = exported_modules(path)
    if kept is None:
        model.load_state_dict(load_file(str(f)), strict=True)
        return
    if not inference:
        raise ValueError(f"{path} is an inference export (it keeps only {', '.join(kept)}): it generates, but cannot "
                         "train, resume or initialise a run; use the run's own checkpoint")
    state = load_file(str(f))
    for name in kept:
        getattr(model, name).load_state_dict(_part(state, name), strict=True)


def _part(state: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """Sub-network ``name``'s entries of a whole model's state dict, under its own keys."""
    return {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")}


def _names(state: dict[str, torch.Tensor]) -> list[str]:
    """The sub-networks a whole model's state dict holds."""
    return sorted({k.split(".", 1)[0] for k in state})


def export_for_inference(src: str | Path, dst: str | Path, modules: list[str], half: bool = False) -> Path:
    """Write an inference export of the checkpoint (or run) ``src`` to ``dst``: the weights of sub-networks
    ``modules`` only (float16 with ``half``: floating tensors only), and the same ``config.json``.

    Raises:
        ValueError: a named sub-network is not in the checkpoint.
    """
    ckpt = find_checkpoint(Path(src))
    state = load_file(str(ckpt / MODEL_FILE))
    have = _names(state)
    missing = [m for m in modules if m not in have]
    if missing or not modules:
        raise ValueError(f"{ckpt} has no sub-network {missing or modules}; it has {have}")
    kept = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in state.items()
            if k.split(".", 1)[0] in modules}
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    save_file(kept, str(dst / MODEL_FILE), metadata={EXPORT_KEY: ",".join(modules),
                                                     "dtype": "float16" if half else "float32"})
    shutil.copyfile(ckpt / CONFIG_FILE, dst / CONFIG_FILE)
    return dst


def load_training_state(path: Path) -> dict:
    return torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=True)


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint under ``run_dir/checkpoints``, oldest first."""
    root = Path(run_dir) / "checkpoints"
    found = []
    if root.is_dir():
        for d in root.iterdir():
            if d.name.startswith(".") or not (d / CONFIG_FILE).is_file() or not (d / MODEL_FILE).is_file():
                continue
            found.append((int(read_meta(d)["step"]), d))
    return sorted(found, key=lambda t: (t[0], t[1].name))


def find_checkpoint(path: Path) -> Path:
    """A checkpoint directory from either a checkpoint or a run directory (its ``final`` if
    present, else its latest checkpoint)."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file() and (path / MODEL_FILE).is_file():
        return path
    if (path / "checkpoints" / "final" / MODEL_FILE).is_file():
        return path / "checkpoints" / "final"
    found = list_checkpoints(path)
    if not found:
        raise FileNotFoundError(f"no checkpoint found at {path} (expected a directory with {MODEL_FILE} "
                                f"and {CONFIG_FILE}, or a run directory with checkpoints/)")
    return found[-1][1]


def parse_frozen(entry: str) -> tuple[str, str, str]:
    """``"name=checkpoint[:source]"`` → (sub-network name, checkpoint path, source sub-network name).

    ``source`` (default: ``name``) is the sub-network's name inside that checkpoint, so a network can
    come from a run of any model, e.g. ``"netE=runs/mnist-encoder:net"``.
    """
    name, sep, rest = entry.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise ValueError(f"frozen entry {entry!r}: expected 'name=checkpoint' or 'name=checkpoint:source'")
    path, colon, source = rest.rpartition(":")
    if not colon or not source.isidentifier():  # no ':source' suffix (or a ':' belonging to the path)
        path, source = rest, name
    return name.strip(), path.strip(), source.strip()


def load_submodule(model: nn.Module, name: str, checkpoint: str | Path, source: str | None = None) -> Path:
    """Load sub-network ``source`` (default ``name``) of the checkpoint (or run) at ``checkpoint`` into
    ``model.<name>`` (strict); returns the checkpoint directory used.

    Raises:
        FileNotFoundError: no checkpoint there.
        ValueError: the model has no sub-network ``name``, the checkpoint none called ``source``, or
            their weights do not fit (the message names both sides).
    """
    source = source or name
    ckpt = find_checkpoint(Path(checkpoint))
    if not isinstance(getattr(model, name, None), nn.Module):
        children = [n for n, _ in model.named_children()]
        raise ValueError(f"the model has no sub-network {name!r} to load into; it has {children}")
    state = load_file(str(ckpt / MODEL_FILE))
    part = _part(state, source)
    if not part:
        raise ValueError(f"checkpoint {ckpt} has no sub-network {source!r}; it has {_names(state)}")
    try:
        getattr(model, name).load_state_dict(part, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{source!r} of {ckpt} does not fit this model's {name!r} (built with another "
                         f"architecture or size): {str(e).splitlines()[0]}") from e
    return ckpt


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m core.checkpoint", description="Checkpoint tools.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="an inference export: only the sub-networks that generate, optionally float16")
    e.add_argument("src", help="a checkpoint or run directory")
    e.add_argument("dst", help="the export's directory")
    e.add_argument("--modules", required=True, help="comma-separated sub-networks to keep, e.g. netG1,netG2")
    e.add_argument("--half", action="store_true", help="store floating tensors as float16 (half the size)")
    a = p.parse_args(argv)
    try:
        out = export_for_inference(a.src, a.dst, [m.strip() for m in a.modules.split(",") if m.strip()], a.half)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({(out / MODEL_FILE).stat().st_size / 2 ** 20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

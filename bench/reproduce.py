"""What a benchmark cell depended on, and where a retrained cell first departs from a committed one.

PROTOCOL.md rules 7, 8 and 17: ``--verify ROW SEED`` reproduces a cell bit for bit only on the same machine
class with the locked environment; where it does not, it names the first input or training step that
differs. So every cell in ``runs.csv`` records (:data:`bench.runs.RUN_COLUMNS`):

- the machine: the CPU model (``/proc/cpuinfo``'s "model name") and the kernels torch picks on it
  (``torch.backends.cpu.get_cpu_capability()``: ``AVX2``, ``AVX512``, ...), and the torch version;
- the environment: the first 12 hex digits of the SHA-256 of ``requirements.lock``;
- the data: hashes of the training split's tensors as the loop loaded them and of the caption embeddings
  it trained on (``none`` for a model or dataset without text), over every unit of the cell's chain;
- the first :data:`FIRST_STEPS` training steps of each unit: the losses its optimizers stepped on (``loss_<role>``;
  ``first_losses``, compact JSON) and a hash of them.

The data and losses come from :func:`core.train.train`'s ``data_hook`` and ``step_hook``
(:class:`UnitRecorder`), which write ``inputs.json`` and ``first-steps.json`` into each run directory, so a
Stage-I shared by several rows and trained once still gives every cell its record.
"""
from __future__ import annotations

import hashlib
import json
import math
import platform
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = "requirements.lock"
FIRST_STEPS = 20  # training steps per unit whose losses every cell records
INPUTS_FILE, STEPS_FILE = "inputs.json", "first-steps.json"  # written into each run directory
NO_TEXT = "none"  # embedding_hash of a run without caption embeddings
REPRODUCED = "reproduced bit for bit"  # the verify log's last line when every score is the same
# the recorded inputs, in the order --verify compares them, with their names in its messages
INPUTS = (("torch_version", "torch version"), ("lock_hash", "lock file (requirements.lock)"),
          ("cpu_capability", "CPU capability"), ("cpu_model", "CPU model"), ("threads", "thread count"),
          ("data_hash", "data hash"), ("embedding_hash", "embedding hash"))


def _digest(h: "hashlib._Hash") -> str:
    return h.hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- the machine

def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere ``platform``'s processor or machine)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def lock_hash(root: Path = ROOT) -> str:
    """12 hex digits of the SHA-256 of ``requirements.lock`` (``""`` without one)."""
    path = root / LOCK_FILE
    return _digest(hashlib.sha256(path.read_bytes())) if path.is_file() else ""


def machine_inputs(root: Path = ROOT) -> dict[str, str]:
    """The cell's machine and environment columns (the same for every cell of one process)."""
    return {"cpu_model": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_version": torch.__version__, "lock_hash": lock_hash(root)}


# ---------------------------------------------------------------------------------------------- the data

def _update(h: "hashlib._Hash", t: torch.Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f"{t.dtype} {tuple(t.shape)}\0".encode())
    h.update(t.numpy().tobytes())


def data_hash(dataset, keys: tuple[str, ...]) -> str:
    """12 hex digits over every training item's batch entries ``keys`` (the tensors the loop reads: image,
    normals, mask, ...) and its label, as :func:`core.data.base.item_fields` gives them."""
    from core.data.base import item_fields

    h = hashlib.sha256(f"{len(dataset)} {sorted(keys)}\0".encode())
    want = tuple(dict.fromkeys((*keys, "label")))
    for i in range(len(dataset)):
        item = item_fields(dataset, i, want)
        for k in sorted(item):
            if torch.is_tensor(item[k]):
                _update(h, item[k])
            else:
                h.update(f"{k}={item[k]!r}\0".encode())
    return _digest(h)


def embedding_hash(conditions) -> str:
    """12 hex digits over the caption embeddings a run trains on (the :class:`core.conditioning.TextConditions`
    table and caption counts), or :data:`NO_TEXT` when it has none."""
    text = getattr(conditions, "text", None)
    if text is None:
        return NO_TEXT
    h = hashlib.sha256()
    _update(h, text.table)
    _update(h, text.counts)
    return _digest(h)


# ---------------------------------------------------------------------------------------------- first steps

def compact(value: float) -> float:
    """A loss as stored: float32 losses (all of the loop's) as the shortest decimal that reads back as the
    same float32, others unchanged. Two losses are equal exactly when their compact forms are."""
    v = float(value)
    as32 = np.float32(v)
    return float(str(as32)) if math.isfinite(v) and float(as32) == v else v


class UnitRecorder:
    """``core.train.train`` hooks recording one unit's inputs and first steps into its run directory.

    ``data_hook`` writes ``inputs.json`` (data and embedding hashes); ``step_hook`` keeps the losses of the
    first :data:`FIRST_STEPS` steps and writes ``first-steps.json`` once it has them (then asks to be called
    no more). :meth:`finish` writes a shorter run's steps. A run resumed past step 1 keeps the file its first
    attempt wrote (its own steps would not start at 1)."""

    def __init__(self, run: Path):
        self.run = Path(run)
        self.steps: list[dict[str, float]] = []
        self.from_start = None  # whether the steps seen began at step 1

    def data_hook(self, dataset, keys, conditions) -> None:
        record = {"data_hash": data_hash(dataset, tuple(keys)), "embedding_hash": embedding_hash(conditions)}
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / INPUTS_FILE).write_text(json.dumps(record, sort_keys=True) + "\n")

    def step_hook(self, step: int, losses: dict) -> bool:
        if self.from_start is None:
            self.from_start = step == 1
        self.steps.append({k: compact(v) for k, v in losses.items() if k.startswith("loss_")})
        if len(self.steps) < FIRST_STEPS:
            return True
        self.finish()
        return False

    def finish(self) -> None:
        """Write ``first-steps.json`` when the steps seen start at step 1 (no-op otherwise)."""
        if self.from_start and self.steps:
            keys = sorted({k for s in self.steps for k in s})
            losses = {k: [s.get(k) for s in self.steps] for k in keys}
            (self.run / STEPS_FILE).write_text(json.dumps(losses) + "\n")
            self.from_start = False  # written once


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cell_inputs(units: list[tuple[str, Path]]) -> dict[str, str]:
    """The data and training columns of a cell trained through ``units`` (``(unit key, run dir)``, ancestors
    first), from the files :class:`UnitRecorder` wrote; ``""`` where a unit has none (trained before they
    were recorded)."""
    inputs = [_read_json(run / INPUTS_FILE) for _, run in units]
    steps = [_read_json(run / STEPS_FILE) for _, run in units]
    out = {"data_hash": "", "embedding_hash": "", "loss_hash": "", "first_losses": ""}
    if all(isinstance(i, dict) for i in inputs):
        for col in ("data_hash", "embedding_hash"):
            values = [i.get(col, "") for i in inputs]
            one = values[0] if len(values) == 1 else _digest(hashlib.sha256(" ".join(values).encode()))
            out[col] = NO_TEXT if set(values) == {NO_TEXT} else one
    if all(isinstance(s, dict) for s in steps):
        first = [[key, s] for (key, _), s in zip(units, steps)]
        out["first_losses"] = json.dumps(first, separators=(",", ":"))
        out["loss_hash"] = _digest(hashlib.sha256(out["first_losses"].encode()))
    return out


# ---------------------------------------------------------------------------------------------- diagnosis

def _text(value) -> str:
    """A recorded value as text: ``""`` for a missing one (NaN from an empty CSV field), integers without
    ``.0`` (pandas reads an int column with gaps as floats)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def differing_inputs(committed: dict, retrained: dict) -> tuple[list[str], list[str]]:
    """(``"<input> X vs Y"`` for each recorded input that differs, the inputs the committed cell did not
    record), in the order of :data:`INPUTS`: what to blame before any training step."""
    differ, missing = [], []
    for col, name in INPUTS:
        was, now = _text(committed.get(col)), _text(retrained.get(col))
        if not was:
            missing.append(name)
        elif was != now:
            differ.append(f"{name} {was} vs {now or 'none'}")
    return differ, missing


def first_step_difference(committed: str, retrained: str) -> str | None:
    """Where two ``first_losses`` records (:func:`cell_inputs`) first differ: ``"step k of unit U: loss_x
    committed a vs retrained b"``; None when they agree over every recorded step."""
    was, now = json.loads(committed), json.loads(retrained)
    for i, (key, losses) in enumerate(was):
        other = now[i][1] if i < len(now) and now[i][0] == key else None
        if other is None:
            return f"unit {key} ({i + 1} of {len(was)}) was not trained the same way (another unit chain)"
        n = max([len(v) for v in losses.values()] + [len(v) for v in other.values()] + [0])
        for k in range(n):
            diffs = [f"{name} committed {_at(losses, name, k)} vs retrained {_at(other, name, k)}"
                     for name in sorted(set(losses) | set(other)) if _at(losses, name, k) != _at(other, name, k)]
            if diffs:
                return f"step {k + 1} of unit {key} ({i + 1} of {len(was)}): " + "; ".join(diffs)
    return None


def _at(losses: dict, name: str, k: int):
    values = losses.get(name) or []
    return values[k] if k < len(values) else None


def _training_lines(committed: str, retrained: str) -> tuple[str, str]:
    """(the log's training line, where the departure lies for the verdict, ``""`` when unknown) from the two
    cells' ``first_losses``."""
    if not committed:
        return "training: the committed cell's first steps were not recorded", ""
    if not retrained:
        return "training: the retrained cell's first steps were not recorded", ""
    step = first_step_difference(committed, retrained)
    if step is not None:
        return f"training departs at {step}", f"training departs at {step}"
    counts = [(key, max([len(v) for v in losses.values()] + [0])) for key, losses in json.loads(committed)]
    agree = "training: the losses of the first steps agree (" + ", ".join(
        f"{n} of unit {key}" for key, n in counts) + ")"
    if all(n < FIRST_STEPS for _, n in counts):  # every step of these short runs was recorded
        return agree, "training agrees at every step: it departs in the last update or in scoring"
    return agree, f"training departs after step {FIRST_STEPS} (or scoring does)"


def diagnose(committed: dict, retrained: dict, expected: dict[str, float], got: dict[str, float]) -> list[str]:
    """The verify log's diagnosis lines; the last one is the verdict, :data:`REPRODUCED` or ``NOT reproduced:
    <where it starts>``: the recorded inputs that differ, else the first training step whose losses differ.

    Args:
        committed: the committed cell's recorded columns (one runs.csv line; older files lack the inputs).
        retrained: the retrained cell's columns.
        expected, got: metric -> value, committed and retrained.
    """
    differ, missing = differing_inputs(committed, retrained)
    if all(not _text(committed.get(col)) for col, _ in INPUTS if col != "threads"):  # threads predates the rest
        lines = ["inputs: not recorded for the committed cell (a runs.csv from before they were); comparing the "
                 "numbers only" + (" (" + "; ".join(differ) + " differs)" if differ else "")]
    else:
        lines = ["inputs differ: " + "; ".join(differ) if differ else "inputs: the same"]
        lines += ["inputs not recorded for the committed cell: " + ", ".join(missing)] if missing else []
    training, where = _training_lines(_text(committed.get("first_losses")), _text(retrained.get("first_losses")))
    lines.append(training)
    if all(m in got and got[m] == expected[m] for m in expected):
        return lines + [REPRODUCED]
    if differ:
        return lines + ["NOT reproduced: inputs differ (" + "; ".join(differ) + ")"]
    return lines + ["NOT reproduced: " + (where or "cannot say where it starts (not recorded)")]

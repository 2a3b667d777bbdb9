"""``runs.csv``: the tidy results file, one line per (table row, seed, metric).

The runner (:mod:`bench.ablations`) appends to it and the report (:mod:`bench.report`) reads it;
both import this module, so neither imports the other to reach the file.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

import pandas as pd

# code_fingerprint: bench.provenance.code_fingerprint of the code that produced the cell; device: the
# device kind it ran on ("cpu", "cuda: <name>"); threads: torch threads (float results depend on both).
# What the cell depended on (bench.reproduce; older files lack these columns and read them as missing):
# cpu_model, cpu_capability (torch.backends.cpu.get_cpu_capability()), torch_version, lock_hash (of
# requirements.lock), data_hash and embedding_hash (the training data and caption embeddings as loaded),
# loss_hash and first_losses (the first 20 steps' losses of each unit, JSON); row_definition:
# bench.cells.row_definition of the row the cell belongs to.
RUN_COLUMNS = ["row", "seed", "metric", "value", "preset", "dataset", "git_sha", "code_fingerprint", "device",
               "threads", "checkpoint", "wall_time_s", "error", "cpu_model", "cpu_capability", "torch_version",
               "lock_hash", "data_hash", "embedding_hash", "loss_hash", "first_losses", "row_definition"]
# hex digests and text read as text, never as numbers (an all-digit hash would lose its leading zeros)
TEXT_COLUMNS = ("git_sha", "code_fingerprint", "cpu_model", "cpu_capability", "torch_version", "lock_hash",
                "data_hash", "embedding_hash", "loss_hash", "first_losses", "row_definition")


def read_runs(path: Path) -> pd.DataFrame:
    """The rows of ``path``, or an empty frame with :data:`RUN_COLUMNS` when it does not exist yet."""
    if path.is_file():
        return pd.read_csv(path, keep_default_na=True, dtype={c: str for c in TEXT_COLUMNS})
    return pd.DataFrame(columns=RUN_COLUMNS)


def append_runs(path: Path, records: list[dict]) -> None:
    """Append ``records`` atomically: write the whole new file beside the old one, then rename.
    A lock file serialises writers, so several processes (e.g. one per seed) can share ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".runs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = read_runs(path)
        new = pd.DataFrame(records, columns=RUN_COLUMNS)
        df = new if old.empty else pd.concat([old, new], ignore_index=True)
        fd, tmp = tempfile.mkstemp(prefix=".runs.", suffix=".csv", dir=path.parent)
        os.close(fd)
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)


def finished_cells(runs: pd.DataFrame, fingerprint: str | None = None) -> set[tuple[str, int]]:
    """(row, seed) pairs with at least one successful metric value; with ``fingerprint``, only cells
    produced by that code (cells of other code, or older files without the column, are stale)."""
    ok = runs.dropna(subset=["value"])
    if fingerprint is not None:
        column = ok["code_fingerprint"] if "code_fingerprint" in ok else pd.Series("", index=ok.index)
        ok = ok[column.astype(str) == fingerprint]
    return {(r, int(s)) for r, s in zip(ok["row"], ok["seed"])}

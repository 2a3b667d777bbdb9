"""Training conditions: what each batch carries for the kinds a model is conditioned on.

A model declares its kinds (``text``, ``label``, ``structure`` or none; see
:data:`core.models.base.CONDITION_KINDS`). :class:`BatchConditions` checks that the dataset provides
them and adds them to every batch:

- ``text``: every caption of the dataset is encoded once (cached on disk by :mod:`core.text`), or the
  dataset's precomputed embeddings are used (the StackGAN release's char-CNN-RNN vectors); each step
  picks one random caption of each image (StackGAN-Pytorch's choice);
- ``label``: the items' class ids (``batch["label"]``, always present);
- ``structure``: the items' structure maps (``batch["normals"]``: surface normals).

For models that ask for mismatched pairs, ``wrong_<kind>`` holds the condition of a random item of a
*different class* (the matching-aware discriminator's negative, as in the TF StackGAN code's class check).
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from core.errors import ConfigError

RELEASE_ENCODER = "char-cnn-rnn"  # the StackGAN release's precomputed vectors (core.text.ReleaseEmbeddings)


class TextConditions:
    def __init__(self, table: torch.Tensor, counts: torch.Tensor, labels: torch.Tensor):
        """
        Args:
            table: ``[N, K, E]`` embeddings of every image's captions (padded to K).
            counts: ``[N]`` number of valid captions per image (≥ 1).
            labels: ``[N]`` class ids, used to draw wrong captions from another class.
        """
        if (counts < 1).any():
            raise ValueError("every image needs at least one caption")
        self.table, self.counts, self.labels = table, counts, labels
        self.embed_dim = table.shape[-1]

    def right(self, index: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A random caption embedding of each image in ``index`` ``[B]`` → ``[B, E]``."""
        k = (torch.rand(index.shape[0], generator=gen) * self.counts[index]).long()
        return self.table[index, k]

    def wrong(self, index: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A caption embedding of a random image whose class differs from each of ``index`` → ``[B, E]``."""
        return self.right(other_class_items(self.labels, index, gen), gen)


def other_class_items(labels: torch.Tensor, index: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``[B]`` indices of random items whose class differs from that of each item of ``index``.

    Raises:
        ConfigError: the dataset has a single class, so no mismatched pair exists.
    """
    if labels.unique().numel() < 2:
        raise ConfigError("mismatched (wrong) conditions need at least two classes in the dataset; this model's "
                          "matching-aware discriminator cannot train on a single-class dataset")
    n = labels.shape[0]
    other = torch.randint(n, index.shape, generator=gen)
    for _ in range(100):  # rejection sampling; with ≥ 2 classes this ends fast
        same = labels[other] == labels[index]
        if not same.any():
            break
        other[same] = torch.randint(n, (int(same.sum()),), generator=gen)
    else:
        raise RuntimeError("could not draw wrong conditions from a different class")
    return other


def dataset_labels(dataset: Dataset) -> torch.Tensor:
    """``[N]`` class ids, from ``dataset.labels`` when the dataset has it, else by iterating."""
    labels = getattr(dataset, "labels", None)
    if labels is None:
        labels = [int(dataset[i]["label"]) for i in range(len(dataset))]
    return torch.as_tensor(labels, dtype=torch.long)


def caption_lists(dataset: Dataset) -> list[list[str]] | None:
    """Every item's captions, or ``None`` when the dataset has no caption text."""
    captions = dataset.all_captions() if hasattr(dataset, "all_captions") else None
    if captions is None or not any(captions):
        return None
    return captions


def provided_kinds(dataset: Dataset) -> tuple[str, ...]:
    """The condition kinds ``dataset`` can provide (every dataset has labels)."""
    kinds = ["label"]
    if caption_lists(dataset) is not None or getattr(dataset, "embeddings", None) is not None:
        kinds.insert(0, "text")
    if len(dataset) and "normals" in dataset[0]:
        kinds.append("structure")
    return tuple(kinds)


def resolve_text_encoder(name: str, dataset: Dataset, dataset_name: str = "dataset") -> tuple[str, str | None]:
    """The text encoder a run really uses, and a note when it differs from ``name``.

    ``auto`` means the release's precomputed embeddings when the dataset has them (the paper's exact
    condition), else ``minilm``. A dataset with embeddings but no caption text (a StackGAN release root
    without ``text_c10/``) can only train on its embeddings, whatever ``name`` says.
    """
    has_emb = getattr(dataset, "embeddings", None) is not None
    has_text = caption_lists(dataset) is not None
    if name == "auto":
        return (RELEASE_ENCODER if has_emb else "minilm"), None
    if name != RELEASE_ENCODER and not has_text and has_emb:
        return RELEASE_ENCODER, (f"{dataset_name} has no caption text (e.g. no text_c10/), only precomputed "
                                 f"embeddings: training on those ({RELEASE_ENCODER}) instead of text encoder {name!r}")
    if name == RELEASE_ENCODER and not has_emb:
        raise ConfigError(f"text_encoder {RELEASE_ENCODER!r} uses the StackGAN release's precomputed embeddings, "
                          f"which {dataset_name} does not have; use minilm, hash or auto")
    return name, None


def build_text_conditions(dataset: Dataset, encoder_name: str, labels: torch.Tensor | None = None) -> TextConditions:
    """Encode every caption of ``dataset`` once (cached on disk by :mod:`core.text`) and index them.

    With ``encoder_name == "char-cnn-rnn"`` the dataset's precomputed ``embeddings`` ``[N, K, E]`` (the
    StackGAN release's vectors) are used; otherwise ``dataset.all_captions()`` is encoded.

    Raises:
        ConfigError: the dataset has neither caption text nor embeddings for the chosen encoder.
    """
    labels = dataset_labels(dataset) if labels is None else labels
    if encoder_name == RELEASE_ENCODER:
        emb = getattr(dataset, "embeddings", None)
        if emb is None:
            raise ConfigError(f"text_encoder {RELEASE_ENCODER!r} needs the dataset's precomputed embeddings")
        table = torch.as_tensor(emb, dtype=torch.float32)
        return TextConditions(table, torch.full((table.shape[0],), table.shape[1]), labels)
    captions = caption_lists(dataset)
    if captions is None:
        raise ConfigError("the dataset has no captions to encode (all_captions() is missing or empty); a "
                          "text-conditioned model needs captions or the release's precomputed embeddings")
    empty = [i for i, c in enumerate(captions) if not c]
    if empty:
        raise ConfigError(f"{len(empty)} item(s) have no caption, e.g. item {empty[0]}; every item of a "
                          "text-conditioned dataset needs at least one")
    from core.text import get_text_encoder

    unique = sorted({c for caps in captions for c in caps})
    lookup = {c: i for i, c in enumerate(unique)}
    vectors = get_text_encoder(encoder_name).encode(unique)  # [U, E]
    k = max(len(c) for c in captions)
    index = torch.zeros(len(captions), k, dtype=torch.long)
    counts = torch.zeros(len(captions), dtype=torch.long)
    for i, caps in enumerate(captions):
        ids = [lookup[c] for c in caps]
        index[i, : len(ids)] = torch.tensor(ids)
        index[i, len(ids):] = ids[0]
        counts[i] = len(ids)
    return TextConditions(vectors[index], counts, labels)


class BatchConditions:
    """The conditions of a model's kinds for a training dataset (see the module docstring).

    Args:
        dataset: the training dataset.
        kinds: the model's condition kinds (``()`` for an unconditional model).
        mismatched: also add ``wrong_<kind>`` entries.
        text_encoder: encoder name for ``text`` (already resolved, see :func:`resolve_text_encoder`).
        dataset_name: for error messages.
    Raises:
        ConfigError: the dataset does not provide a kind the model needs.
    """

    def __init__(self, dataset: Dataset, kinds: tuple[str, ...], mismatched: bool, text_encoder: str,
                 dataset_name: str = "the dataset"):
        provided = provided_kinds(dataset)
        missing = [k for k in kinds if k not in provided]
        if missing:
            raise ConfigError(f"the model is conditioned on {list(kinds)}, but {dataset_name} provides "
                              f"{list(provided)} (no {', '.join(missing)}); choose a dataset that has it")
        self.dataset, self.kinds, self.mismatched = dataset, tuple(kinds), mismatched
        self.labels = dataset_labels(dataset)  # [N]
        self.text = build_text_conditions(dataset, text_encoder, self.labels) if "text" in kinds else None
        self.num_classes = int(self.labels.max()) + 1 if len(self.labels) else 0
        self.embed_dim = self.text.embed_dim if self.text is not None else 0
        self.structure_channels = int(dataset[0]["normals"].shape[0]) if "structure" in kinds else 0

    def add(self, batch: dict, index: torch.Tensor, gen: torch.Generator) -> dict:
        """Add the condition entries for the items ``index`` ``[B]`` to ``batch`` (drawing from ``gen``)."""
        if self.text is not None:
            batch["text"] = self.text.right(index, gen)  # [B, E]
        if "structure" in self.kinds:
            batch["structure"] = batch["normals"]  # [B, 3, H, W]
        if self.mismatched and self.kinds:
            other = other_class_items(self.labels, index, gen)  # [B]
            if self.text is not None:
                batch["wrong_text"] = self.text.right(other, gen)
            if "label" in self.kinds:
                batch["wrong_label"] = self.labels[other]
            if "structure" in self.kinds:
                batch["wrong_structure"] = torch.stack([self.dataset[int(i)]["normals"] for i in other])
        return batch

    def items(self, index: torch.Tensor) -> dict:
        """Fixed conditions of the items ``index`` (first caption, label, structure map) for sample grids."""
        cond = {}
        if self.text is not None:
            cond["text"] = self.text.table[index, 0]  # [n, E]
        if "label" in self.kinds:
            cond["label"] = self.labels[index]  # [n]
        if "structure" in self.kinds:
            cond["structure"] = torch.stack([self.dataset[int(i)]["normals"] for i in index])  # [n, 3, H, W]
        return cond

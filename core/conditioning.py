"""Text conditions for training: every caption of a dataset encoded once, then sampled per step.

``right`` picks one random caption of each batch image (StackGAN-Pytorch's choice); ``wrong`` picks
a caption of a random image of a *different class* (the matching-aware discriminator's negative,
as in the TF StackGAN code's class check).
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset


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
        if labels.unique().numel() < 2:
            raise ValueError("wrong-caption sampling needs at least two classes in the dataset")
        self.table, self.counts, self.labels = table, counts, labels
        self.embed_dim = table.shape[-1]

    def right(self, index: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A random caption embedding of each image in ``index`` ``[B]`` → ``[B, E]``."""
        k = (torch.rand(index.shape[0], generator=gen) * self.counts[index]).long()
        return self.table[index, k]

    def wrong(self, index: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A caption embedding of a random image whose class differs from each of ``index`` → ``[B, E]``."""
        n = self.labels.shape[0]
        other = torch.randint(n, index.shape, generator=gen)
        for _ in range(100):  # rejection sampling; with ≥ 2 classes this ends fast
            same = self.labels[other] == self.labels[index]
            if not same.any():
                break
            other[same] = torch.randint(n, (int(same.sum()),), generator=gen)
        else:
            raise RuntimeError("could not draw wrong captions from a different class")
        return self.right(other, gen)


def dataset_labels(dataset: Dataset) -> torch.Tensor:
    """``[N]`` class ids, from ``dataset.labels`` when the dataset has it, else by iterating."""
    labels = getattr(dataset, "labels", None)
    if labels is None:
        labels = [int(dataset[i]["label"]) for i in range(len(dataset))]
    return torch.as_tensor(labels, dtype=torch.long)


def build_text_conditions(dataset: Dataset, encoder_name: str) -> TextConditions:
    """Encode every caption of ``dataset`` once (cached on disk by :mod:`core.text`) and index them.

    Uses ``dataset.all_captions()`` (list of caption lists) when present, else precomputed
    ``dataset.embeddings`` ``[N, K, E]`` (the StackGAN release's char-CNN-RNN vectors).
    """
    labels = dataset_labels(dataset)
    if hasattr(dataset, "all_captions"):
        from core.text import get_text_encoder

        captions = dataset.all_captions()
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
    emb = getattr(dataset, "embeddings", None)
    if emb is None:
        raise ValueError("dataset has neither captions (all_captions) nor precomputed embeddings")
    table = torch.as_tensor(emb, dtype=torch.float32)
    return TextConditions(table, torch.full((table.shape[0],), table.shape[1]), labels)

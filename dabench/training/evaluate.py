"""Accuracy: overall, and per sub-target of a blended target. Pure functions."""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset


def accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of correct predictions; (N,) and (N,) -> float in [0, 1]."""
    if len(labels) == 0:
        return float("nan")
    return (pred == labels).double().mean().item()


def group_accuracy(pred: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor,
                   names: tuple[str, ...]) -> dict[str, float]:
    """Accuracy pooled over all items, per sub-target (by name), and the mean of those."""
    per = {name: accuracy(pred[groups == i], labels[groups == i]) for i, name in enumerate(names)}
    return {"pooled": accuracy(pred, labels), "per_target": per,
            "mean_of_targets": sum(per.values()) / len(per)}


def _batches(dataset: Dataset, batch_size: int, num_workers: int) -> Iterable:
    """(x, y) batches of a whole dataset, in dataset order."""
    if isinstance(dataset, TensorDataset):
        xs, ys = dataset.tensors
        return ((xs[i:i + batch_size], ys[i:i + batch_size])
                for i in range(0, len(xs), batch_size))
    if hasattr(dataset, "take_batches"):  # feature vectors: batches stay sparse
        return dataset.take_batches(torch.arange(len(dataset)), batch_size)
    if hasattr(dataset, "take"):
        return (dataset.take(torch.arange(i, min(i + batch_size, len(dataset))))
                for i in range(0, len(dataset), batch_size))
    return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)


@torch.no_grad()
def predict_dataset(predict: Callable[[torch.Tensor], torch.Tensor], dataset: Dataset,
                    batch_size: int, num_workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted classes and labels of a whole dataset, in dataset order: (N,), (N,).

    `predict` takes a CPU batch and returns logits (moving the batch to its device itself)."""
    preds, labels = [], []
    for x, y in _batches(dataset, batch_size, num_workers):
        preds.append(predict(x).argmax(1).cpu())
        labels.append(y)
    return torch.cat(preds), torch.cat(labels)


def crop_averaged(logits: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    """`logits` for (B, C, H, W) batches -> a predictor that also takes (B, K, C, H, W) batches
    of K test crops per item and returns the mean softmax over the crops (B, classes); CDAN's
    ten-crop test (thuml/CDAN c904cd3, pytorch/train_image.py 25-38: the sum of the softmaxes,
    same argmax)."""
    def predict(x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            return logits(x)
        b, k = x.shape[:2]
        out = logits(x.flatten(0, 1)).float().softmax(1)  # (B*K, classes)
        return out.view(b, k, -1).mean(1)

    return predict


@torch.no_grad()
def outputs_dataset(forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                    dataset: Dataset, batch_size: int, num_workers: int = 0
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits (N, C), features (N, D) and labels (N,) of a whole dataset, in dataset order, in
    one pass; `forward` takes a CPU batch and returns (logits, features) as float tensors."""
    logits, feats, labels = [], [], []
    for x, y in _batches(dataset, batch_size, num_workers):
        out, feat = forward(x)
        logits.append(out.cpu())
        feats.append(feat.cpu())
        labels.append(y)
    return torch.cat(logits), torch.cat(feats), torch.cat(labels)

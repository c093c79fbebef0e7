"""Class names <-> embedding indices. Public interfaces speak names ("spiral", 3, "random");
only this module and the networks see indices. The empty-set label "random" is index len(names)."""
from __future__ import annotations

from typing import Sequence

import torch

from .points import POINT_LABELS

RANDOM = "random"
DIGITS = tuple(str(d) for d in range(10))
WORLD_LABELS = {"points": POINT_LABELS, "mnist": DIGITS}  # each world's class names, in index order


def label_choices(names: Sequence[str]) -> list[str]:
    return [*names, RANDOM]


def label_index(label, names: Sequence[str]) -> int:
    """"spiral" / "3" / 3 / "random" / None -> index; ValueError naming the allowed labels."""
    if label is None or (isinstance(label, str) and label.strip().lower() == RANDOM):
        return len(names)
    key = str(label).strip()
    if isinstance(label, bool) or key not in names:
        raise ValueError(f"unknown label {label!r}; allowed: {', '.join(label_choices(names))}")
    return list(names).index(key)


def label_name(index: int, names: Sequence[str]) -> str:
    return RANDOM if index == len(names) else names[index]


def label_batch(label, n: int, names: Sequence[str]) -> torch.Tensor:
    """(n,) long tensor of one label; label may also be a list of n labels (one per sample)."""
    if isinstance(label, (list, tuple)):
        if len(label) != n:
            raise ValueError(f"got {len(label)} labels for n={n} samples")
        return torch.tensor([label_index(v, names) for v in label], dtype=torch.long)
    return torch.full((n,), label_index(label, names), dtype=torch.long)

"""Class names <-> embedding indices. Public interfaces speak names ("spiral", 3, "random");
only this module and the networks see indices. The empty-set label "random" is index len(names)."""
from __future__ import annotations

from typing import Sequence

import torch

from ..core.checks import invalid

RANDOM = "random"


def label_choices(names: Sequence[str]) -> list[str]:
    return [*names, RANDOM]


def label_index(label, names: Sequence[str]) -> int:
    """"spiral" / "3" / 3 / "random" / None -> index; ValueError naming the allowed labels."""
    if label is None or (isinstance(label, str) and label.strip().lower() == RANDOM):
        return len(names)
    key = str(label).strip()
    if isinstance(label, bool) or key not in names:
        raise invalid("label", label, ", ".join(label_choices(names)))
    return list(names).index(key)


def label_name(index: int, names: Sequence[str]) -> str:
    return RANDOM if index == len(names) else names[index]


def label_batch(label, n: int, names: Sequence[str]) -> torch.Tensor:
    """(n,) long tensor of one label; label may also be a list of n labels (one per sample)."""
    if isinstance(label, (list, tuple)):
        if len(label) != n:
            raise invalid("label", label, f"one label, or a list of n={n} labels")
        return torch.tensor([label_index(v, names) for v in label], dtype=torch.long)
    return torch.full((n,), label_index(label, names), dtype=torch.long)

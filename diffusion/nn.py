"""Layers shared by the denoisers: the sinusoidal embedding of timesteps (and coordinates)."""
from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) timesteps -> (B, dim) features [cos(t w_k), sin(t w_k)], w_k = max_period^(-k / (dim/2))
    (Vaswani et al.; as in DDPM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ConditionEmbedding(nn.Module):
    """Embeds (t, y) into one vector: MLP(sinusoidal(t)) + Embedding(y).

    The label table has num_classes + 1 rows: the last row is the empty-set label (null),
    which stands for "no condition" (classifier-free guidance's unconditional model).
    """

    def __init__(self, num_classes: int, dim: int, time_dim: int | None = None):
        super().__init__()
        self.time_dim = time_dim or dim
        self.time_mlp = nn.Sequential(nn.Linear(self.time_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.label_emb = nn.Embedding(num_classes + 1, dim)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.time_mlp(sinusoidal_embedding(t, self.time_dim)) + self.label_emb(y)

"""The 2D denoiser: a residual MLP, `model(x_t, t, y) -> eps` for points x_t (B, 2)."""
from __future__ import annotations

import math

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .nn import ConditionEmbedding


class _Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        self.emb = nn.Linear(width, width)
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(self.act(self.fc1(self.act(self.norm(h))) + self.emb(emb)))


class PointDenoiser(nn.Module, PyTorchModelHubMixin):
    """x (B, 2), t (B,), y (B,) in 0..num_classes (num_classes = empty label) -> eps (B, 2).

    The coordinates enter with Fourier features sin/cos(2^k pi x), which lets a small MLP draw
    thin curves (Tancik et al., 2020).
    """

    def __init__(self, num_classes: int = 3, width: int = 256, depth: int = 4, fourier: int = 6):
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("freqs", (2.0 ** torch.arange(fourier)) * math.pi, persistent=False)
        self.inp = nn.Linear(2 + 4 * fourier, width)
        self.cond = ConditionEmbedding(num_classes, width)
        self.blocks = nn.ModuleList(_Block(width) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ang = (x[:, :, None] * self.freqs).flatten(1)
        h = self.inp(torch.cat([x, torch.sin(ang), torch.cos(ang)], 1))
        emb = self.cond(t, y)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)

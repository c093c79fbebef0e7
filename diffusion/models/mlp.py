"""The 2D denoiser: a residual MLP, `model(x_t, t, y) -> eps` for points x_t (B, 2).

Split into `embed` and `trunk` (see `diffusion.models.layers.ConditionedDenoiser`): each block's projection of
the (t, y) embedding depends on t and y only, so a sampler computes them once per (t, label) pair.
"""
from __future__ import annotations

import math

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .layers import ConditionedDenoiser, ConditionEmbedding, add_rows


class _Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        self.emb = nn.Linear(width, width)
        self.act = nn.SiLU()

    def project(self, emb: torch.Tensor) -> torch.Tensor:
        """The block's condition term, fc1's bias included: emb (R, w) -> (R, w)."""
        return self.emb(emb) + self.fc1.bias

    def body(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """h (B, w), e = project(embedding) (k B, w) -> h + fc2(silu(fc1(silu(norm(h))) + emb)), (k B, w).

        With as many rows in h as in e, each linear layer is one addmm that also does the add
        (e + a W1^T, h + s W2^T); with k > 1 (the first block under guidance) fc1 runs on the B
        label-free rows and broadcasting repeats them onto the k B condition rows."""
        a = self.act(self.norm(h))
        if len(a) == len(e):
            z = torch.addmm(e, a, self.fc1.weight.t())
        else:
            z = add_rows(a @ self.fc1.weight.t(), e)
        s = self.act(z)
        if len(s) == len(h):
            return torch.addmm(h, s, self.fc2.weight.t()).add_(self.fc2.bias)
        return add_rows(h, self.fc2(s))


class PointDenoiser(ConditionedDenoiser, PyTorchModelHubMixin):
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

    def emb_layers(self) -> list:
        return [block.project for block in self.blocks]

    def trunk(self, x: torch.Tensor, embs: list[torch.Tensor]) -> torch.Tensor:
        """x (B, 2), embs from `embed` with k B rows each -> eps (k B, 2)."""
        ang = (x[:, :, None] * self.freqs).flatten(1)
        h = self.inp(torch.cat([x, torch.sin(ang), torch.cos(ang)], 1))
        for block, e in zip(self.blocks, embs):
            h = block.body(h, e)
        return self.out(h)

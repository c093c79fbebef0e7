"""Noise-aware classifiers `classifier(x_t, t) -> logits` over a world's real classes, for
classifier guidance (Dhariwal & Nichol 2021):

    eps = eps_u - s sqrt(1 - alpha_bar_t) grad_x log p(y | x_t)

They are trained on x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps at uniform random t with
cross-entropy (`diffusion.training.classifier_task`), with the same t as the world's denoiser.
Both are plain functions of (x_t, t): no batch statistics (GroupNorm/LayerNorm only), so each
row's gradient is its own, and both are differentiable w.r.t. x_t (guidance takes that gradient).
"""
from __future__ import annotations

import math

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .layers import sinusoidal_embedding
from .mlp import _Block


class TimeEmbedding(nn.Module):
    """t (B,) -> MLP(sinusoidal(t)) (B, dim): the denoisers' time embedding without the label."""

    def __init__(self, dim: int, time_dim: int | None = None):
        super().__init__()
        self.time_dim = time_dim or dim
        self.mlp = nn.Sequential(nn.Linear(self.time_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.time_dim).to(self.mlp[0].weight.dtype))


class PointClassifier(nn.Module, PyTorchModelHubMixin):
    """x_t (B, 2), t (B,) -> logits (B, num_classes).

    The denoiser's recipe without the label: Fourier features sin/cos(2^k pi x) of the point
    (thin curves need high frequencies, Tancik et al. 2020), then `depth` residual MLP blocks,
    each adding its own projection of the time embedding (`mlp._Block`)."""

    def __init__(self, num_classes: int = 3, width: int = 128, depth: int = 3, fourier: int = 6):
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("freqs", (2.0 ** torch.arange(fourier)) * math.pi, persistent=False)
        self.inp = nn.Linear(2 + 4 * fourier, width)
        self.time = TimeEmbedding(width)
        self.blocks = nn.ModuleList(_Block(width) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ang = (x[:, :, None] * self.freqs).flatten(1)
        h = self.inp(torch.cat([x, torch.sin(ang), torch.cos(ang)], 1))
        emb = self.time(t)
        for block in self.blocks:
            h = block.body(h, block.project(emb))
        return self.out(h)


class _TimeConv(nn.Module):
    """conv -> + proj(time embedding) per channel -> GroupNorm -> SiLU: (B, cin, H, W) -> (B, cout, H', W')."""

    def __init__(self, cin: int, cout: int, emb_dim: int, kernel: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm = nn.GroupNorm(min(8, cout // 4), cout)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv(x) + self.emb(emb)[:, :, None, None]
        return nn.functional.silu(self.norm(h))


class DigitClassifier(nn.Module, PyTorchModelHubMixin):
    """x_t (B, 1, 28, 28) in the denoiser's space, t (B,) -> logits (B, num_classes).

    LeNet-like with the time embedding added after every convolution (why: the same pixels mean
    different things at different noise levels, so each layer is told t):
      5x5 conv c0 @ 28x28 -> 3x3 stride-2 conv c1 @ 14x14 -> 3x3 stride-2 conv c2 @ 7x7
      -> global mean over positions -> Linear(c2, hidden) -> SiLU -> Linear(hidden, num_classes).
    With the default sizes: ~170k parameters, ~16 MFLOP per image (2 per multiply-add)."""

    def __init__(self, num_classes: int = 10, channels: tuple | list = (32, 64, 128), emb_dim: int = 128,
                 hidden: int = 128):
        super().__init__()
        c0, c1, c2 = channels
        self.num_classes = num_classes
        self.time = TimeEmbedding(emb_dim, 64)
        self.layers = nn.ModuleList([_TimeConv(1, c0, emb_dim, 5), _TimeConv(c0, c1, emb_dim, 3, stride=2),
                                     _TimeConv(c1, c2, emb_dim, 3, stride=2)])
        self.head = nn.Sequential(nn.Linear(c2, hidden), nn.SiLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(t)
        h = x
        for layer in self.layers:
            h = layer(h, emb)
        return self.head(h.mean((2, 3)))

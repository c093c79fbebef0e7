"""A class-conditioned U-Net for 28x28 digits, `model(x_t, t, y) -> eps`.

Three resolutions (28, 14, 7) with residual blocks (GroupNorm, SiLU, the (t, y) embedding added
between the two convolutions), self-attention at 7x7, skip connections by concatenation.
"""
from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .nn import ConditionEmbedding


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch // 4), ch)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2, self.conv2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.act = nn.SiLU()
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(self.act(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    """Single-head self-attention over the H*W positions, with a residual connection."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm, self.qkv, self.proj = _norm(ch), nn.Conv2d(ch, 3 * ch, 1), nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(2, 3).unbind(1)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return x + self.proj(out.transpose(1, 2).reshape(b, c, h, w))


class UNet(nn.Module, PyTorchModelHubMixin):
    """x (B, 1, 28, 28), t (B,), y (B,) in 0..num_classes (num_classes = empty label) -> eps."""

    def __init__(self, num_classes: int = 10, channels: tuple | list = (16, 32, 96),
                 emb_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        c0, c1, c2 = channels
        self.num_classes = num_classes
        self.cond = ConditionEmbedding(num_classes, emb_dim)
        self.conv_in = nn.Conv2d(1, c0, 3, padding=1)
        self.down0 = ResBlock(c0, c0, emb_dim, dropout)
        self.pool0 = nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.down1 = ResBlock(c0, c1, emb_dim, dropout)
        self.pool1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.mid1 = ResBlock(c1, c2, emb_dim, dropout)
        self.attn = Attention(c2)
        self.mid2 = ResBlock(c2, c2, emb_dim, dropout)
        self.up1 = ResBlock(c2 + c1, c1, emb_dim, dropout)
        self.up0 = ResBlock(c1 + c0, c0, emb_dim, dropout)
        self.out = nn.Sequential(_norm(c0), nn.SiLU(), nn.Conv2d(c0, 1, 3, padding=1))
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        emb = self.cond(t, y)
        h0 = self.down0(self.conv_in(x), emb)  # 28x28
        h1 = self.down1(self.pool0(h0), emb)  # 14x14
        h = self.mid1(self.pool1(h1), emb)  # 7x7
        h = self.mid2(self.attn(h), emb)
        h = self.up1(torch.cat([self.upsample(h), h1], 1), emb)
        h = self.up0(torch.cat([self.upsample(h), h0], 1), emb)
        return self.out(h)

"""A class-conditioned U-Net for 28x28 digits, `model(x_t, t, y) -> eps`.

Three resolutions (28, 14, 7) with residual blocks (GroupNorm, SiLU, the (t, y) embedding added
between the two convolutions), self-attention at 7x7, skip connections by concatenation.
The (t, y) dependence is split off into `embed` (see `diffusion.models.layers.ConditionedDenoiser`), so a
sampler can embed a whole run up front and share the label-free stem between cond and uncond rows.
"""
from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .layers import ConditionedDenoiser, ConditionEmbedding, add_rows, norm_act


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch // 4), ch)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2, self.conv2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.body(x, self.emb(emb))

    def body(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """x (B, cin, H, W), e = self.emb(embedding) (k B, cout) -> (k B, cout, H, W)."""
        h = add_rows(self.conv1(norm_act(self.norm1, x)), e[:, :, None, None])
        h = self.conv2(self.dropout(norm_act(self.norm2, h)))
        return add_rows(self.skip(x), h)


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


class UNet(ConditionedDenoiser, PyTorchModelHubMixin):
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

    def emb_layers(self) -> list[nn.Module]:
        return [b.emb for b in (self.down0, self.down1, self.mid1, self.mid2, self.up1, self.up0)]

    def trunk(self, x: torch.Tensor, embs: list[torch.Tensor]) -> torch.Tensor:
        """x (B, 1, 28, 28), embs from `embed` with k B rows each -> eps (k B, 1, 28, 28)."""
        if self.down0.conv1.weight.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)  # follow `inference.prepare`'s layout
        e_down0, e_down1, e_mid1, e_mid2, e_up1, e_up0 = embs
        h0 = self.down0.body(self.conv_in(x), e_down0)  # 28x28; B -> k B rows here
        h1 = self.down1.body(self.pool0(h0), e_down1)  # 14x14
        h = self.mid1.body(self.pool1(h1), e_mid1)  # 7x7
        h = self.mid2.body(self.attn(h), e_mid2)
        h = self.up1.body(torch.cat([self.upsample(h), h1], 1), e_up1)
        h = self.up0.body(torch.cat([self.upsample(h), h0], 1), e_up0)
        return self.out[2](norm_act(self.out[0], h))  # out = GroupNorm, SiLU, Conv

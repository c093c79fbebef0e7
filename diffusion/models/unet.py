"""A class-conditioned U-Net for 28x28 digits, `model(x_t, t, y) -> eps`.

Three resolutions (28, 14, 7) with residual blocks (GroupNorm, SiLU, the (t, y) embedding added
between the two convolutions), self-attention at 7x7, skip connections by concatenation; `extra_blocks` adds residual blocks per level
that start as the identity, so a trained network can grow deeper without forgetting (`training.grow`).
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


def identity_block(ch: int, emb_dim: int, dropout: float) -> ResBlock:
    """A ResBlock whose residual branch starts at zero: the identity until training moves it."""
    block = ResBlock(ch, ch, emb_dim, dropout)
    nn.init.zeros_(block.conv2.weight)
    nn.init.zeros_(block.conv2.bias)
    return block


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
                 emb_dim: int = 128, dropout: float = 0.0, extra_blocks: tuple | list = (0, 0, 0)):
        super().__init__()
        c0, c1, c2 = channels
        n0, n1, n2 = extra_blocks
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

        def more(ch: int, n: int) -> nn.ModuleList:
            return nn.ModuleList([identity_block(ch, emb_dim, dropout) for _ in range(n)])

        # empty by default, so models without extra blocks keep their state-dict keys
        self.down_more, self.up_more = (nn.ModuleList([more(c0, n0), more(c1, n1)]) for _ in range(2))
        self.mid_more = more(c2, n2)
        self.out = nn.Sequential(_norm(c0), nn.SiLU(), nn.Conv2d(c0, 1, 3, padding=1))
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def stages(self) -> list[list[ResBlock]]:
        """The residual blocks in the order `trunk` runs them, one list per stage."""
        return [[self.down0, *self.down_more[0]], [self.down1, *self.down_more[1]], [self.mid1],
                [self.mid2, *self.mid_more], [self.up1, *self.up_more[1]], [self.up0, *self.up_more[0]]]

    @staticmethod
    def is_growth_key(name: str) -> bool:
        """True for a state-dict key of an extra block (they live in the *_more module lists)."""
        return name.split(".", 1)[0] in ("down_more", "up_more", "mid_more")

    def emb_layers(self) -> list[nn.Module]:
        return [b.emb for stage in self.stages() for b in stage]

    def trunk(self, x: torch.Tensor, embs: list[torch.Tensor]) -> torch.Tensor:
        """x (B, 1, 28, 28), embs from `embed` with k B rows each -> eps (k B, 1, 28, 28)."""
        if self.down0.conv1.weight.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)  # follow `inference.prepare`'s layout
        stages, embs = iter(self.stages()), iter(embs)

        def stage(h: torch.Tensor) -> torch.Tensor:  # the next stage's blocks, each with its embedding
            for block in next(stages):
                h = block.body(h, next(embs))
            return h

        h0 = stage(self.conv_in(x))  # 28x28; B -> k B rows here
        h1 = stage(self.pool0(h0))  # 14x14
        h = stage(self.attn(stage(self.pool1(h1))))  # 7x7: mid1, attention, mid2
        h = stage(torch.cat([self.upsample(h), h1], 1))
        h = stage(torch.cat([self.upsample(h), h0], 1))
        return self.out[2](norm_act(self.out[0], h))  # out = GroupNorm, SiLU, Conv

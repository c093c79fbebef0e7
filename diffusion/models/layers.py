"""Layers shared by the denoisers: the sinusoidal embedding of timesteps, the (t, y) condition
embedding, and `ConditionedDenoiser`, the split of a denoiser into `embed` and `trunk` that lets a
sampler compute the condition embeddings of a whole run once, before its first step."""
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

    def time_features(self, t: torch.Tensor) -> torch.Tensor:
        """(B,) -> (B, dim), in the parameters' dtype (float64 models too: tests compare paths in it)."""
        return self.time_mlp(sinusoidal_embedding(t, self.time_dim).to(self.label_emb.weight.dtype))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.time_features(t) + self.label_emb(y)

    def grid(self, t: torch.Tensor) -> torch.Tensor:
        """(S,) timesteps -> (S, L, dim): the embedding of every (t_s, label) pair, L = num_classes + 1.
        Row [s, l] equals forward(t_s, l); one time-MLP call per timestep, not per sample."""
        return self.time_features(t)[:, None] + self.label_emb.weight[None]


class ConditionedDenoiser(nn.Module):
    """eps = trunk(x_t, embed(t, y)): a denoiser whose (t, y) dependence is confined to `embed`.

    `embed` returns one tensor per conditioned layer (each layer's own projection of the condition
    embedding, shape (R, c_k)). Subclasses define `cond` (a ConditionEmbedding), `emb_layers()` (the
    projections, callables in the order `trunk` consumes them) and `trunk(x, embs)`.

    The trunk accepts R = k * B embedding rows for B rows of x (k >= 1): every layer before the first
    embedding is label-independent, so with classifier-free guidance (k = 2, rows [cond; uncond] of the
    same x_t) those layers run once on B rows, and broadcasting (`add_rows`) doubles the batch where
    the condition enters. The plain forward is the k = 1 case of the same code.
    """

    def emb_layers(self) -> list:
        raise NotImplementedError

    def trunk(self, x: torch.Tensor, embs: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def embed(self, t: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """(B,), (B,) -> per conditioned layer, (B, c_k)."""
        e = self.cond(t, y)
        return [layer(e) for layer in self.emb_layers()]

    def embed_grid(self, t: torch.Tensor) -> list[torch.Tensor]:
        """(S,) timesteps -> per conditioned layer, (S, L, c_k) for every (t_s, label) pair: a whole
        run's embeddings in one batched call; a step then only gathers its rows (`grid[k][s][y]`)."""
        e = self.cond.grid(t)
        return [layer(e) for layer in self.emb_layers()]

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.trunk(x, self.embed(t, y))


def norm_act(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """silu(norm(x)); in place on the fresh normalised tensor when no gradient is recorded
    (SiLU's backward needs its input), which saves an allocation and a pass over memory."""
    return torch.nn.functional.silu(norm(x), inplace=not torch.is_grad_enabled())


def add_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b where one has B rows and the other k B rows (k >= 1): row j of the (k B, ...) result
    is small[j % B] + big[j], i.e. the B-row operand is repeated k times by broadcasting (no copy).
    Trailing dimensions broadcast as usual, e.g. (B, c, H, W) + (k B, c, 1, 1)."""
    small, big = (a, b) if a.shape[0] <= b.shape[0] else (b, a)
    k = big.shape[0] // small.shape[0]
    if k == 1:
        return a + b
    # Written into a tensor laid out like the full-size operand (channels_last stays so): a broadcast
    # add over the unflattened batch would return a plain contiguous tensor, and mixing layouts
    # sends the next cat and GroupNorm down slow strided paths.
    trailing = torch.broadcast_shapes(a.shape[1:], b.shape[1:])
    layout = torch.channels_last if any(v.dim() == 4 and v.shape[1:] == trailing and
                                        v.is_contiguous(memory_format=torch.channels_last)
                                        for v in (a, b)) else torch.contiguous_format
    out = torch.empty((big.shape[0], *trailing), dtype=big.dtype, memory_format=layout)
    n = small.shape[0]
    torch.add(big.unflatten(0, (k, n)), small, out=out.unflatten(0, (k, n)))
    return out

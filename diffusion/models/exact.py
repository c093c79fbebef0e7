"""The exact denoiser of a finite training set: a reference that no network can beat on that set.

For data x_1..x_N with labels, the forward process gives q(x_t | x0 = x_i) = N(sqrt(ab_t) x_i,
(1 - ab_t) I), so under the empirical distribution of the class-y examples

    E[x0 | x_t, y] = sum_i w_i x_i,   w = softmax_i( (sqrt(ab_t) <x_t, x_i> - ab_t ||x_i||^2 / 2) / (1 - ab_t) )

(the ||x_t||^2 term is the same for every i and drops out of the softmax), and the empty-set label
takes the sum over all N. Its eps, (x_t - sqrt(ab_t) E[x0 | x_t, y]) / sqrt(1 - ab_t), is the
minimiser of the training loss on that set. It keeps the denoiser contract model(x_t, t, y) -> eps,
so the same sampler runs it with guidance: what it does to FLD is what guidance does with a perfect
model of those examples (it can only return training examples at t -> 0: it memorises).
`ExactClassifier` is the noise-aware classifier p(y | x_t) of the same pool, for classifier guidance.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.stf import posterior_logits

ROWS = 256  # rows per softmax: bounds memory at ROWS x N float64
# Below this many multiply-adds per step (rows x pool x dims) the work is many small ops, where a
# second OpenMP thread adds only barrier waits: a 2D pool of 2000 points ran 12x slower on two
# threads than on one while another process kept both cores busy (0.34 s against 4.2 s a run).
ONE_THREAD_WORK = 50_000_000


class ExactDenoiser(nn.Module):
    """data (N, *shape) in [-1, 1], labels (N,) in 0..null_label-1, alphas_cumprod (T,)."""

    def __init__(self, data: torch.Tensor, labels: torch.Tensor, alphas_cumprod, null_label: int):
        super().__init__()
        if len(data) == 0 or len(data) != len(labels):
            raise ValueError(f"need one label per example and at least one example; got {len(data)} "
                             f"examples and {len(labels)} labels")
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.min() < 0 or labels.max() >= null_label:
            raise ValueError(f"labels must lie in 0..{null_label - 1}; got {labels.min()}..{labels.max()}")
        order = torch.argsort(labels, stable=True)  # each class one contiguous slice of `pool`
        self.null_label = null_label
        self.register_buffer("pool", data[order].reshape(len(data), -1).to(torch.float64))
        self.register_buffer("labels", labels[order])  # the state then says which class each row is
        self.register_buffer("half_sq", self.pool.pow(2).sum(1) / 2)
        self.register_buffer("ab", torch.as_tensor(np.asarray(alphas_cumprod), dtype=torch.float64))
        counts = torch.bincount(labels, minlength=null_label).tolist()
        ends = np.cumsum([0, *counts]).tolist()
        self.slices = {k: slice(ends[k], ends[k + 1]) for k in range(null_label) if counts[k]}
        self.slices[null_label] = slice(0, len(data))

    def posterior_mean(self, x: torch.Tensor, ab: torch.Tensor, label: int) -> torch.Tensor:
        """E[x0 | x_t, y=label] for flat rows x (B, D) float64 at alpha_bar ab (B, 1)."""
        part = self.slices[label]
        pool, half_sq = self.pool[part], self.half_sq[part]
        logits = posterior_logits(x, pool, half_sq, ab.sqrt(), 1.0 - ab)
        return torch.softmax(logits, dim=1) @ pool

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x_t (B, *shape), t (B,) in 0..T-1, y (B,) labels or null_label -> eps (B, *shape)."""
        t, y = t.expand(len(x_t)), y.expand(len(x_t))
        if t.min() < 0 or t.max() >= len(self.ab):
            raise ValueError(f"t must lie in 0..{len(self.ab) - 1}; got {t.min()}..{t.max()}")
        unknown = sorted(set(y.tolist()) - set(self.slices))
        if unknown:
            raise ValueError(f"no training examples for label(s) {unknown}; known: {sorted(self.slices)}")
        x = x_t.reshape(len(x_t), -1).to(torch.float64)
        ab = self.ab[t].unsqueeze(1)
        x0 = torch.empty_like(x)
        threads = torch.get_num_threads()
        if len(x) * self.pool.numel() < ONE_THREAD_WORK:
            torch.set_num_threads(1)  # OpenMP's setting is the calling thread's own: restored below
        try:
            for label in y.unique().tolist():
                rows = (y == label).nonzero().squeeze(1)
                for chunk in rows.split(ROWS):
                    x0[chunk] = self.posterior_mean(x[chunk], ab[chunk], label)
        finally:
            torch.set_num_threads(threads)
        eps = (x - ab.sqrt() * x0) / (1.0 - ab).sqrt()
        return eps.to(x_t.dtype).reshape(x_t.shape)


class ExactClassifier(nn.Module):
    """The exact noise-aware classifier of an `ExactDenoiser`'s pool: p(y | x_t) by Bayes over the
    Gaussian mixture that the forward process makes of the pool,

        p(x_t | y) = (1 / N_y) sum_{i in y} N(x_t; sqrt(ab_t) x_i, (1 - ab_t) I),   p(y) = N_y / N,

    so p(y | x_t) = softmax_y( logsumexp_{i in y} l_i ) with the denoiser's per-example logits
    l_i = (sqrt(ab_t) <x_t, x_i> - ab_t ||x_i||^2 / 2) / (1 - ab_t) (the terms common to every i
    cancel). classifier(x_t, t) -> logits (B, C) float64 over the real classes 0..C-1
    (C = null_label; a class without examples gets -inf); differentiable in x_t, for classifier
    guidance (`diffusion.core.guiders_models.ClassifierGuidance`)."""

    def __init__(self, exact: ExactDenoiser):
        super().__init__()
        self.exact = exact  # shares its pool, tables and class slices

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ex = self.exact
        t = t.expand(len(x_t))
        x = x_t.reshape(len(x_t), -1).to(torch.float64)
        ab = ex.ab[t].unsqueeze(1)
        logits = (ab.sqrt() * (x @ ex.pool.T) - ab * ex.half_sq) / (1.0 - ab)  # (B, N)
        none = torch.full((len(x),), float("-inf"), dtype=torch.float64)
        cols = [torch.logsumexp(logits[:, ex.slices[k]], dim=1) if k in ex.slices else none
                for k in range(ex.null_label)]
        return torch.stack(cols, dim=1)

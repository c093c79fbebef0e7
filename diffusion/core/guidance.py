"""Guidance: how the conditional and unconditional predictions of one network become the eps a
sampler steps with. Today one method, classifier-free guidance (Ho & Salimans, 2022):

    eps = eps_uncond + s (eps_cond - eps_uncond)

s = 0 is the unconditional model and s = 1 the conditional one (one network call each); otherwise
cond and uncond rows go through the network as one doubled batch. New guidance methods go here.
"""
from __future__ import annotations

import torch


def doubles_batch(guidance: float, all_null: bool) -> bool:
    """Whether a step needs cond and uncond rows: not at s = 0 (uncond only), s = 1 (cond only),
    or when every label is already the null label (nothing to guide toward)."""
    return not (guidance == 0 or guidance == 1 or all_null)


def guidance_rows(y: torch.Tensor, null_label: int, guidance: float) -> torch.Tensor:
    """The labels of the network's rows for the labels y (B,): [y; null] (2B,) in one batched call
    when `doubles_batch`, else all null (s = 0, or every label null) or y (s = 1)."""
    null = torch.full_like(y, null_label)
    all_null = bool((y == null_label).all())
    if doubles_batch(guidance, all_null):
        return torch.cat([y, null])
    return null if guidance == 0 or all_null else y


def mix(out: torch.Tensor, batch: int, guidance: float) -> torch.Tensor:
    """Network output for `guidance_rows` -> guided eps (B, ...):
    eps = eps_uncond + s (eps_cond - eps_uncond), as one lerp."""
    if out.shape[0] == batch:
        return out
    eps_c, eps_u = out.chunk(2)
    return torch.lerp(eps_u, eps_c, guidance)


def guided_eps(model, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, null_label: int,
               guidance: float) -> torch.Tensor:
    """The guided eps (B, ...) of one step with the model's plain forward, x (B, ...), t and y (B,).
    Rows whose label is already the null label need no guidance, so an all-"random" batch also
    costs one call."""
    rows = guidance_rows(y, null_label, guidance)
    k = len(rows) // len(y)
    return mix(model(torch.cat([x] * k), torch.cat([t] * k), rows), len(y), guidance)


class GuidedDenoiser:
    """The guided eps of one run, `eps = denoiser(x_t, i)` at table index i of a respaced chain
    whose network timesteps are `times` (S,).

    The rows' labels are fixed for the run, so they are worked out once. A model with the
    `embed_grid`/`trunk` split (`diffusion.models.layers.ConditionedDenoiser`) gets every step's
    condition embeddings in one call up front and the un-doubled x_t (its label-free stem runs once
    for cond and uncond rows); any other model is called as model(x, t, y) on the doubled batch.
    """

    def __init__(self, model, times: torch.Tensor, y: torch.Tensor, null_label: int, guidance: float):
        self.model, self.y, self.null_label, self.guidance = model, y, null_label, float(guidance)
        self.rows = guidance_rows(y, null_label, guidance)
        self.times = times
        self.grid = model.embed_grid(self.times) if hasattr(model, "embed_grid") else None

    def __call__(self, x: torch.Tensor, i: int) -> torch.Tensor:
        if self.grid is None:
            return guided_eps(self.model, x, self.times[i].expand(len(self.y)), self.y, self.null_label, self.guidance)
        # (S, L, c) tables -> this step's (rows, c)
        return mix(self.model.trunk(x, [g[i].index_select(0, self.rows) for g in self.grid]), len(self.y), self.guidance)

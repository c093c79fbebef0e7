"""Guidance: how the predictions of a step become the eps a sampler steps with. The entry of the
core's guidance: the methods (`METHODS`, each one small class in `guiders_cfg`/`guiders_models`
behind the `guiders.Guider` interface), their parameters (`PARAMS`), `make_guider`, and
`GuidedDenoiser`, the per-run object the sampling loop calls.

The default method is classifier-free guidance (Ho & Salimans, 2022):

    eps = eps_uncond + s (eps_cond - eps_uncond)

s = 0 is the unconditional model and s = 1 the conditional one (one network call each); otherwise
cond and uncond rows go through the network as one doubled batch.

How a caller picks a method: `sample_frames(..., guidance=s, method="rescale")` (the method's
defaults) or `method=make_guider("apg", eta=0.5)`; the models a method needs are parameters too:
`make_guider("autoguidance", weak_model=m)`, `make_guider("classifier", classifier=c)`.
"""
from __future__ import annotations

from typing import Any

import torch

from .checks import invalid
from .guiders import Guider, Param, RunModel, Step
from .guiders_cfg import APG, CFG, CFGZeroStar, Interval, Rescale
from .guiders_models import AutoGuidance, ClassifierGuidance

GUIDERS: dict[str, type[Guider]] = {g.name: g for g in (CFG, Rescale, Interval, APG, CFGZeroStar,
                                                         AutoGuidance, ClassifierGuidance)}
METHODS = tuple(GUIDERS)  # "cfg" first: the default
# method -> parameter name -> Param (kind, default, range): for the public input layer's checks.
PARAMS: dict[str, dict[str, Param]] = {name: g.params() for name, g in GUIDERS.items()}


def make_guider(method: str = "cfg", **params: Any) -> Guider:
    """The guider of a method with the given parameters (the rest at their defaults), e.g.
    make_guider("rescale", phi=0.5). Unknown methods, unknown parameters and values outside
    their range raise ValueError in the format of `checks.invalid`."""
    if method not in GUIDERS:
        raise invalid("method", method, ", ".join(METHODS))
    known = PARAMS[method]
    for key in params:
        if key not in known:
            raise invalid("parameter", key, f"{', '.join(known) or 'none'} (the parameters of {method})")
    return GUIDERS[method](**params)


def as_guider(method: str | Guider) -> Guider:
    """A method name (its default parameters) or a guider -> a guider."""
    if isinstance(method, Guider):
        return method
    if isinstance(method, str):
        return make_guider(method)
    raise invalid("method", method, ", ".join(METHODS) + " or a Guider")


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
    """Network output for `guidance_rows` -> the cfg eps (B, ...):
    eps = eps_uncond + s (eps_cond - eps_uncond), as one lerp (as `guiders_cfg.CFG`)."""
    if out.shape[0] == batch:
        return out
    eps_c, eps_u = out.chunk(2)
    return torch.lerp(eps_u, eps_c, guidance)


def guided_eps(model, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, null_label: int,
               guidance: float) -> torch.Tensor:
    """The cfg eps (B, ...) of one step with the model's plain forward, x (B, ...), t and y (B,).
    Rows whose label is already the null label need no guidance, so an all-"random" batch also
    costs one call."""
    rows = guidance_rows(y, null_label, guidance)
    k = len(rows) // len(y)
    return mix(model(torch.cat([x] * k), torch.cat([t] * k), rows), len(y), guidance)


class GuidedDenoiser:
    """The guided eps of one run, `eps = denoiser(x_t, i)` at table index i of a respaced chain
    whose network timesteps are `times` (S,) and whose alpha_bar table is `alphas_cumprod` (S,)
    (needed by every method but cfg, rescale and autoguidance).

    The rows' labels are fixed for the run, so they are worked out once, and the method's state
    (e.g. APG's momentum) is made once. A model with the `embed_grid`/`trunk` split
    (`diffusion.models.layers.ConditionedDenoiser`) gets every step's condition embeddings in one
    call up front and the un-doubled x_t (its label-free stem runs once for cond and uncond rows);
    any other model is called as model(x, t, y) on the doubled batch (`guiders.RunModel`).
    """

    def __init__(self, model, times: torch.Tensor, y: torch.Tensor, null_label: int, guidance: float,
                 method: str | Guider = "cfg", alphas_cumprod=None):
        self.model, self.y, self.null_label, self.guidance = model, y, null_label, float(guidance)
        self.guider = as_guider(method)
        if alphas_cumprod is None and self.guider.needs_alpha_bar:
            raise ValueError(f"method {self.guider.name!r} needs the chain's alphas_cumprod")
        self.alpha_bar = [float("nan")] * len(times) if alphas_cumprod is None else \
            [float(a) for a in alphas_cumprod]
        self.times = times
        self.all_null = bool((y == null_label).all())
        null = torch.full_like(y, null_label)
        self.rows = {"cond": y, "uncond": null, "both": torch.cat([y, null])}
        self.net = RunModel(model, times)
        self.state = self.guider.new_state(times)

    def __call__(self, x: torch.Tensor, i: int) -> torch.Tensor:
        S = len(self.times)
        step = Step(S - 1 - i, S, i, self.times[i].expand(len(self.y)), self.alpha_bar[i], x, self.y,
                    self.null_label, self.all_null)
        which = self.guider.branches(self.guidance, step)
        eps_c = eps_u = None
        if which != "none":
            out = self.net(x, i, self.rows[which])
            if which == "both":
                eps_c, eps_u = out.chunk(2)
            elif which == "cond":
                eps_c = out
            else:
                eps_u = out
        return self.guider.combine(self.guidance, eps_c, eps_u, step, self.state)

"""Guidance methods that mix the conditional and the unconditional eps of one network.

Notation: eps_c = eps(x_t, t, y), eps_u = eps(x_t, t, null), s = the guidance scale with the
convention of classifier-free guidance: s = 0 is the unconditional model, s = 1 the conditional
one. alpha = sqrt(alpha_bar_t), sigma = sqrt(1 - alpha_bar_t), x0(eps) = (x_t - sigma eps) / alpha.
Each method is checked against its diffusers guider in tests/test_guidance_methods.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from .guiders import Step, TwoBranch, per_sample, spec


@dataclass(frozen=True)
class CFG(TwoBranch):
    """Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance"):

        eps = eps_u + s (eps_c - eps_u)

    s = 0 needs only the unconditional rows (one call), like s = 1 and all-null labels."""
    name: ClassVar[str] = "cfg"

    def branches(self, s, step):
        return "uncond" if s == 0 else super().branches(s, step)

    def guide(self, s, eps_c, eps_u, step, state):
        return torch.lerp(eps_u, eps_c, s)


@dataclass(frozen=True)
class Rescale(TwoBranch):
    """CFG rescale (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
    Flawed", sec. 3.4): the CFG eps is rescaled to the spread of the conditional one, then mixed
    back by phi:

        eps_cfg = eps_u + s (eps_c - eps_u)
        eps     = phi eps_cfg std(eps_c) / std(eps_cfg) + (1 - phi) eps_cfg

    std is per sample over all non-batch dims, unbiased (diffusers' `rescale_noise_cfg`); for a
    point (2 dims) it is |e_1 - e_2| / sqrt(2). Where std(eps_cfg) = 0 the ratio is taken as 1
    (diffusers would divide by zero)."""
    name: ClassVar[str] = "rescale"
    phi: float = spec(0.7, low=0.0, high=1.0, doc="guidance_rescale: weight of the rescaled eps")

    def guide(self, s, eps_c, eps_u, step, state):
        cfg = torch.lerp(eps_u, eps_c, s)
        dims = per_sample(cfg)
        std_c, std_cfg = eps_c.std(dim=dims, keepdim=True), cfg.std(dim=dims, keepdim=True)
        ratio = torch.where(std_cfg > 0, std_c / std_cfg, torch.ones_like(std_cfg))
        return torch.lerp(cfg, cfg * ratio, self.phi)


@dataclass(frozen=True)
class Interval(TwoBranch):
    """Guidance in a limited interval (Kynkaanniemi et al. 2024, "Applying Guidance in a Limited
    Interval Improves Sample and Distribution Quality in Diffusion Models"):

        eps = eps_u + s (eps_c - eps_u)   if the step is inside the interval,
        eps = eps_c                        outside (no guidance: s = 1, one network call)

    Inside means both: the paper's noise range sigma_lo < sigma_t <= sigma_hi, with the EDM
    sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t) (defaults: EDM2-S's (0.28, 2.9]), and
    diffusers' fraction of the run, int(start S) <= k < int(stop S) (defaults 0, 1: every step).
    Set sigma_lo = 0, sigma_hi = inf for diffusers' start/stop alone."""
    name: ClassVar[str] = "interval"
    needs_alpha_bar: ClassVar[bool] = True
    sigma_lo: float = spec(0.28, low=0.0, doc="guide where sigma_t > sigma_lo")
    sigma_hi: float = spec(2.9, low=0.0, high=float("inf"), low_open=True, doc="... and sigma_t <= sigma_hi")
    start: float = spec(0.0, low=0.0, high=1.0, high_open=True, doc="first guided step, fraction of S")
    stop: float = spec(1.0, low=0.0, high=1.0, doc="first unguided step after start, fraction of S")

    def __post_init__(self):
        super().__post_init__()
        if self.sigma_lo >= self.sigma_hi:
            raise ValueError(f"sigma_lo={self.sigma_lo!r} is not allowed; allowed: below sigma_hi={self.sigma_hi!r}")
        if self.stop < self.start:
            raise ValueError(f"stop={self.stop!r} is not allowed; allowed: at least start={self.start!r}")

    def inside(self, step: Step) -> bool:
        in_run = int(self.start * step.num_steps) <= step.k < int(self.stop * step.num_steps)
        return in_run and self.sigma_lo < step.sigma <= self.sigma_hi

    def branches(self, s, step):
        if not self.inside(step):
            return "uncond" if step.all_null else "cond"
        return "uncond" if step.all_null or s == 0 else "cond" if s == 1 else "both"

    def guide(self, s, eps_c, eps_u, step, state):
        return torch.lerp(eps_u, eps_c, s)


@dataclass
class Momentum:
    """APG's running average of the guidance difference, one per run."""
    average: torch.Tensor | None = None


@dataclass(frozen=True)
class APG(TwoBranch):
    """Adaptive projected guidance (Sadat et al. 2024, "Eliminating Oversaturation and Artifacts
    of High Guidance Scales in Diffusion Models", Alg. 1), on a prediction D (x0 or eps):

        d  = D_c - D_u;  d <- d + momentum d_prev (running average, kept across steps)
        d  <- d min(1, r / ||d||)                        (norm threshold r; r = 0: off)
        d_par = (<d, D_c> / ||D_c||^2) D_c,  d_perp = d - d_par   (per sample, in float64)
        D  = D_c + (s - 1) (d_perp + eta d_par)

    With eta = 1, r = 0, momentum = 0 this is CFG. `space` = "x0" applies it to the denoised
    prediction x0(eps), as the paper does (the guided x0 gives eps = (x_t - alpha x0) / sigma);
    "eps" applies it to eps itself, as diffusers' guider does to a model's output. Defaults: the
    paper's eta = 0 and its SD-XL row (Table 10): momentum -0.5, r = 15 (diffusers' default r).
    r is a bound on the L2 norm of the whole sample's d, so it scales with sqrt(dims)."""
    name: ClassVar[str] = "apg"
    needs_alpha_bar: ClassVar[bool] = True
    eta: float = spec(0.0, low=0.0, high=1.0, doc="weight of the component parallel to D_c")
    norm_threshold: float = spec(15.0, low=0.0, doc="r: cap on ||d|| per sample; 0 = no cap")
    momentum: float = spec(-0.5, low=-1.0, high=1.0, low_open=True, high_open=True,
                           doc="beta of the running average d + beta d_prev; 0 = none")
    space: str = spec("x0", kind="choice", choices=("x0", "eps"), doc="the prediction D")

    def new_state(self, times):
        return Momentum()

    def guide(self, s, eps_c, eps_u, step, state: Momentum):
        if self.space == "x0":  # x0_c - x0_u = -(sigma / alpha) (eps_c - eps_u)
            ratio = step.sigma_vp / step.alpha
            ref, d = (step.x - step.sigma_vp * eps_c) / step.alpha, (eps_u - eps_c) * ratio
        else:
            ref, d = eps_c, eps_c - eps_u
        if self.momentum != 0:
            d = d if state.average is None else d + self.momentum * state.average
            state.average = d
        dims = per_sample(d)
        if self.norm_threshold > 0:
            norm = d.norm(p=2, dim=dims, keepdim=True)
            d = d * (self.norm_threshold / norm).clamp(max=1.0)
        # The projection in float64 (as diffusers'): d is often nearly parallel to D_c, and the
        # small perpendicular part is a difference of large ones.
        unit = F.normalize(ref.double(), dim=dims)
        par = (d.double() * unit).sum(dim=dims, keepdim=True) * unit
        update = (d.double() - par + self.eta * par).to(d.dtype)
        if self.space == "x0":  # x0 = x0_c + (s - 1) u  <=>  eps = eps_c - (alpha / sigma) (s - 1) u
            return eps_c - (step.alpha / step.sigma_vp) * (s - 1) * update
        return eps_c + (s - 1) * update


@dataclass(frozen=True)
class CFGZeroStar(TwoBranch):
    """CFG-Zero* (Fan et al. 2025, "CFG-Zero*: Improved Classifier-Free Guidance for Flow
    Matching Models"): the unconditional term scaled by the optimal alpha*, per sample,

        alpha* = <eps_c, eps_u> / (||eps_u||^2 + 1e-8)
        eps    = alpha* eps_u + s (eps_c - alpha* eps_u)

    and "zero-init": the first `zero_init_steps` steps (k < zero_init_steps; diffusers' default
    1) make no network call and do not move the sample. The paper zeroes the flow-matching
    velocity v = eps - x0 there; for our eps-prediction that is eps = x0 = x_t / (alpha + sigma),
    which keeps x_t / (alpha + sigma), the flow-matching sample, where it is. (Zeroing eps
    itself, as diffusers' guider does to whatever the model predicts, would instead predict
    x0 = x_t / alpha, a blown-up copy of the noise.) With x0 clipping (the samplers' default) the
    x0 = x_t / (alpha + sigma) of the zero-init steps is clipped to [-1, 1] like any other."""
    name: ClassVar[str] = "cfg_zero_star"
    needs_alpha_bar: ClassVar[bool] = True
    zero_init_steps: int = spec(1, kind="int", low=0, doc="steps at the start that do not move x_t")

    def branches(self, s, step):
        return "none" if step.k < self.zero_init_steps else super().branches(s, step)

    def combine(self, s, eps_c, eps_u, step, state):
        if eps_c is None and eps_u is None:  # zero-init: the flow-matching velocity is 0
            return step.x / (step.alpha + step.sigma_vp)
        return super().combine(s, eps_c, eps_u, step, state)

    def guide(self, s, eps_c, eps_u, step, state):
        c, u = eps_c.flatten(1), eps_u.flatten(1)
        if c.dtype not in (torch.float32, torch.float64):  # half precision: the dot products in float32
            c, u = c.float(), u.float()
        alpha = (c * u).sum(1, keepdim=True) / (u.pow(2).sum(1, keepdim=True) + 1e-8)
        scaled = eps_u * alpha.to(eps_u.dtype).view(-1, *(1,) * (eps_u.dim() - 1))
        return torch.lerp(scaled, eps_c, s)

"""Few-step multistep solvers for an eps-prediction model: DPM-Solver++(2M), its SDE variant, UniPC.

Notation (Lu et al. 2022): at a network timestep t, alpha_t = sqrt(alpha_bar_t),
sigma_t = sqrt(1 - alpha_bar_t) and the half log-SNR lambda_t = log(alpha_t / sigma_t).
Every solver works on the data prediction ("x0-prediction", predict_x0 / "++" form):

    x0 = (x_t - sigma_t eps) / alpha_t,   clamped to [-1, 1] with `clip_x0`,

which equals diffusers' `thresholding=True, sample_max_value=1.0` (dynamic thresholding's s is
clamped to [1, 1], i.e. plain clipping). Our project clips, as its DDIM does: at t = 999 of the
cosine schedule alpha_bar ~ 2.4e-9, so the unclipped first x0 multiplies eps errors by ~2e4.

Step k goes from timesteps[k] to timesteps[k+1]; the last step (k = S-1) goes to the clean sample
(alpha = 1, sigma = 0, lambda = +inf: diffusers' final_sigmas_type="zero"), where every solver
reduces to x_prev = x0. With h = lambda_{k+1} - lambda_k, the orders are those of diffusers'
defaults for solver_order=2: first order at k = 0 (no history) and at k = S-1 (lower_order_final;
with sigma = 0 there is nothing else), second order in between.

DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Alg. 2, midpoint form as diffusers'):
    r = h_prev / h,  D = x0_k + (x0_k - x0_{k-1}) / (2 r)      (D = x0_k at first order)
    x_{k+1} = (sigma_{k+1} / sigma_k) x_k + alpha_{k+1} (1 - e^{-h}) D
SDE-DPM-Solver++(2M) (same paper, sec. 5 / diffusers' "sde-dpmsolver++", midpoint):
    x_{k+1} = (sigma_{k+1} / sigma_k) e^{-h} x_k + alpha_{k+1} (1 - e^{-2h}) D
              + sigma_{k+1} sqrt(1 - e^{-2h}) z,   z ~ N(0, I)
UniPC (Zhao et al. 2023, "UniPC", B(h) = e^{-h} - 1 ("bh2"), data prediction):
    UniP-p predictor: x_{k+1} = (sigma_{k+1}/sigma_k) x_k - alpha_{k+1} B(h) (x0_k + 0.5 D1),
        D1 = (x0_{k-1} - x0_k) / r, r = (lambda_{k-1} - lambda_k) / h (order 2; this equals 2M);
    UniC-p corrector, run at the start of step k on x_k with the new x0_k (no extra model call):
        x_k^c = (sigma_k/sigma_{k-1}) x_{k-1}^c - alpha_k B(h') (x0_{k-1} + rho_D D1' + rho_t (x0_k - x0_{k-1})),
        h' = lambda_k - lambda_{k-1}, p = order of the previous predictor; p = 1: rho_t = 1/2;
        p = 2: D1' = (x0_{k-2} - x0_{k-1}) / r', r' = (lambda_{k-2} - lambda_{k-1}) / h', and
        [[1, 1], [r', 1]] (rho_D, rho_t) = (g1, 2 g2) / B(h'),
        g1 = phi/(-h') - 1, g2 = g1/(-h') - 1/2, phi = e^{-h'} - 1.
    The predictor then starts from the corrected x_k^c; the model was evaluated at uncorrected x_k.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .checks import invalid

SOLVERS = ("dpm++2m", "dpm++2m-sde", "unipc")


def v_to_eps(v: torch.Tensor, x_t: torch.Tensor, alpha_bar: float | torch.Tensor) -> torch.Tensor:
    """eps from a v-prediction (Salimans & Ho 2022, v = sqrt(ab) eps - sqrt(1 - ab) x0):
    eps = sqrt(ab) v + sqrt(1 - ab) x_t. `alpha_bar` is a float or broadcasts against x_t."""
    if isinstance(alpha_bar, torch.Tensor):
        return alpha_bar.sqrt() * v + (1.0 - alpha_bar).sqrt() * x_t
    return alpha_bar ** 0.5 * v + (1.0 - alpha_bar) ** 0.5 * x_t


@dataclass
class SolverState:
    """What a multistep solver remembers between steps (one per sampling run)."""
    x0s: list[torch.Tensor] = field(default_factory=list)  # x0 of the last <= 2 steps, oldest first
    last_x: torch.Tensor | None = None  # UniPC: the sample the previous predictor started from
    last_order: int = 0  # UniPC: order of the previous predictor step (0 before the first step)


class MultistepSolver:
    """A multistep solver over fixed network `timesteps` (decreasing) of a full alpha_bar table."""

    def __init__(self, name: str, alphas_cumprod: np.ndarray, timesteps: Sequence[int], clip_x0: bool = True):
        if name not in SOLVERS:
            raise invalid("sampler", name, ", ".join(SOLVERS))
        ts = [int(t) for t in timesteps]
        ac = np.asarray(alphas_cumprod, dtype=np.float64)
        if not ts or any(a <= b for a, b in zip(ts, ts[1:])) or ts[-1] < 0 or ts[0] >= len(ac):
            raise ValueError(f"timesteps must be decreasing within 0..{len(ac) - 1}, got {ts}")
        self.name, self.timesteps, self.clip_x0 = name, ts, clip_x0
        ab = ac[ts].tolist()
        # Python floats (float64) per visited timestep; index S (the clean sample) is special-cased.
        self.alpha = [a ** 0.5 for a in ab]
        self.sigma = [(1.0 - a) ** 0.5 for a in ab]
        self.lam = [math.log(a) - math.log(s) for a, s in zip(self.alpha, self.sigma)]

    @property
    def num_steps(self) -> int:
        return len(self.timesteps)

    def new_state(self) -> SolverState:
        return SolverState()

    def needs_noise(self, k: int) -> bool:
        """The SDE variant adds noise at every step but the last (sigma = 0 there)."""
        return self.name == "dpm++2m-sde" and k < self.num_steps - 1

    def order(self, k: int) -> int:
        """1 at the first step (no history) and at the last (lower_order_final), else 2."""
        return 1 if k == 0 or k == self.num_steps - 1 else 2

    def predict_x0(self, eps: torch.Tensor, k: int, x: torch.Tensor) -> torch.Tensor:
        """x0 = (x - sigma eps) / alpha, clamped to [-1, 1] with clip_x0."""
        x0 = (x - self.sigma[k] * eps) / self.alpha[k]
        return x0.clamp_(-1.0, 1.0) if self.clip_x0 else x0

    def step(self, eps: torch.Tensor, k: int, x: torch.Tensor, noise: torch.Tensor | None,
             state: SolverState) -> tuple[torch.Tensor, torch.Tensor]:
        """One step from timesteps[k] to timesteps[k+1] (k = S-1: to the clean sample), given the
        model's eps at (x, timesteps[k]). Steps must be taken in order k = 0, 1, ... with one state.
        Returns (x_prev, x0 used at this step); `noise` is needed when `needs_noise(k)`."""
        x0 = self.predict_x0(eps, k, x)
        last = k == self.num_steps - 1
        if self.name == "unipc" and state.last_order > 0 and not last:  # (at the last step x_k is unused)
            x = self._unic(k, x0, state)
        if self.name == "unipc":
            state.last_x, state.last_order = x, self.order(k)
        prev = state.x0s[-1] if state.x0s else None
        state.x0s = [t for t in (prev, x0) if t is not None]
        if last:  # sigma_{k+1} = 0, lambda = inf: every solver gives x0
            return x0.clone(), x0
        h = self.lam[k + 1] - self.lam[k]
        s_ratio, a_next = self.sigma[k + 1] / self.sigma[k], self.alpha[k + 1]
        d = x0
        if self.order(k) == 2:  # D = x0_k + (x0_k - x0_{k-1}) / (2 r), r = h_{k-1} / h
            r = (self.lam[k] - self.lam[k - 1]) / h
            d = torch.add(x0, x0 - prev, alpha=0.5 / r)
        if self.name == "dpm++2m-sde":
            if noise is None:
                raise ValueError(f"{self.name} needs noise at step {k}")
            e2 = -math.expm1(-2.0 * h)  # 1 - e^{-2h}
            out = torch.add(x * (s_ratio * math.exp(-h)), d, alpha=a_next * e2)
            return out.add_(noise, alpha=self.sigma[k + 1] * e2 ** 0.5), x0
        # DPM-Solver++(2M) and UniP-2 (bh2, rho = 1/2) are the same update.
        return torch.add(x * s_ratio, d, alpha=-a_next * math.expm1(-h)), x0

    def _unic(self, k: int, x0: torch.Tensor, state: SolverState) -> torch.Tensor:
        """UniC-p (bh2) correction of x_k from the previous step's start `state.last_x`, p = last order."""
        m0 = state.x0s[-1]  # x0_{k-1}
        h = self.lam[k] - self.lam[k - 1]
        phi = math.expm1(-h)  # h phi_1(-h) = e^{-h} - 1 = B(h) for bh2
        if state.last_order == 1:
            corr = (x0 - m0) * 0.5
        else:
            r = (self.lam[k - 2] - self.lam[k - 1]) / h
            g1 = phi / -h - 1.0
            g2 = g1 / -h - 0.5
            b1, b2 = g1 / phi, 2.0 * g2 / phi
            rho_d = (b1 - b2) / (1.0 - r)  # solve [[1, 1], [r, 1]] (rho_d, rho_t) = (b1, b2)
            rho_t = b1 - rho_d
            corr = torch.add((state.x0s[-2] - m0) * (rho_d / r), x0 - m0, alpha=rho_t)
        base = torch.add(state.last_x * (self.sigma[k] / self.sigma[k - 1]), m0, alpha=-self.alpha[k] * phi)
        return base.add_(corr, alpha=-self.alpha[k] * phi)

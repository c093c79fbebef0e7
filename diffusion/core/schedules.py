"""Noise schedules as pure functions of (name, T), and timestep respacing.

Every function returns a float64 numpy array so that the coefficient tables built from it
(see `diffusion.gaussian`) carry no float32 rounding from the schedule itself.
"""
from __future__ import annotations

import math

import numpy as np

from .checks import invalid

SCHEDULES = ("linear", "cosine")


def linear_betas(T: int) -> np.ndarray:
    """Ho et al. (2020): beta rises linearly from 1e-4 to 0.02 over 1000 steps.

    For other T the endpoints are scaled by 1000 / T (as in improved-diffusion), so that the
    total amount of noise, and thus alpha_bar_T, stays close to the 1000-step schedule.
    """
    scale = 1000.0 / T
    # Below T = 20 the scaled end point passes 1; clip as the cosine schedule does.
    return np.minimum(np.linspace(scale * 1e-4, scale * 0.02, T, dtype=np.float64), 0.999)


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal (2021): alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2).

    beta_t = 1 - alpha_bar(t+1) / alpha_bar(t), clipped at `max_beta` to avoid the singularity
    at t = T.
    """
    def alpha_bar(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), max_beta) for i in range(T)]
    return np.array(betas, dtype=np.float64)


def make_betas(schedule: str, T: int) -> np.ndarray:
    """Betas (T,) of the named schedule. Raises ValueError for unknown names or T < 1."""
    if not isinstance(T, int) or T < 1:
        raise invalid("timesteps", T, "an integer >= 1")
    if schedule == "linear":
        return linear_betas(T)
    if schedule == "cosine":
        return cosine_betas(T)
    raise invalid("schedule", schedule, ", ".join(SCHEDULES))


def space_timesteps(T: int, steps: int) -> list[int]:
    """An evenly spaced, increasing subset of `steps` timesteps out of range(T).

    It always contains T - 1, so that the reverse process starts from (nearly) pure noise, and,
    for steps >= 2, also 0, so that it ends on the cleanest step. steps = 1 gives [T - 1]: one
    jump from noise straight to the x0 prediction.
    """
    if not isinstance(steps, int) or not 1 <= steps <= T:
        raise invalid("steps", steps, f"an integer in 1..{T}")
    if steps == 1:
        return [T - 1]
    # Spacing is >= 1 when steps <= T, so rounding keeps the values distinct.
    return [int(round(v)) for v in np.linspace(0, T - 1, steps)]

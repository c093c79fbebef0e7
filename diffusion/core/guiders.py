"""The interface every guidance method implements, and what a method sees of a step.

A method (a `Guider`) turns one step's predictions into the eps a sampler steps with. Per step
it says which rows of the main network it needs (`branches`: "cond" = the labels y, "uncond" =
the null label, "both" = one doubled batch [y; null], "none"), and then `combine`s them, with
the step's context (`Step`: k of S, the network timestep, alpha_bar_t, x_t) and a small state
object of the run (`new_state`), e.g. APG's momentum or autoguidance's bound weak model.

A guider holds the method's parameters only; the guidance scale s is an argument of the run,
so one guider serves a whole sweep of scales. Parameters are dataclass fields whose metadata
(`spec`) gives the allowed range: `Guider.params()` lists them for the public input layer and
`__post_init__` checks them with the project's message format (`checks.invalid`).
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

import torch

from .checks import invalid

BRANCHES = ("none", "cond", "uncond", "both")


@dataclass(frozen=True)
class Param:
    """One parameter of a method: its kind ("float", "int", "choice", "model"), default and range.
    A bound is closed unless its `*_open` flag says otherwise; None means unbounded."""
    name: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""

    def allowed(self) -> str:
        """The `allowed` part of a rejection message, e.g. "a number in [0, 1]"."""
        if self.kind == "choice":
            return ", ".join(self.choices)
        if self.kind == "model":
            return self.doc
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        brackets = ("(" if self.low_open or self.low is None else "[") + lo + ", " + hi + \
                   (")" if self.high_open or self.high is None else "]")
        return f"{'an integer' if self.kind == 'int' else 'a number'} in {brackets}"

    def check(self, value) -> None:
        """Raise ValueError("name=value is not allowed; allowed: ...") unless value fits."""
        if self.kind == "model":
            ok = callable(value)
        elif self.kind == "choice":
            ok = value in self.choices
        else:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = number and (self.kind == "float" or isinstance(value, int)) and not math.isnan(value)
            # infinity only where it is a stated bound (e.g. sigma_hi = inf: no upper end)
            ok = ok and (math.isfinite(value) or value in (self.low, self.high))
            ok = ok and (self.low is None or value > self.low or (value == self.low and not self.low_open))
            ok = ok and (self.high is None or value < self.high or (value == self.high and not self.high_open))
        if not ok:
            raise invalid(self.name, value, self.allowed())


def spec(default, kind: str = "float", doc: str = "", **limits):
    """A dataclass field with its `Param` limits in the metadata (name and default filled in later)."""
    return field(default=default, metadata={"param": dict(kind=kind, doc=doc, **limits)})


@dataclass(frozen=True)
class Step:
    """What a method sees of one step of a run of S steps (shapes: B = batch)."""
    k: int  # the step of the run, 0..S-1; k = 0 is the noisiest
    num_steps: int  # S
    i: int  # the respaced chain's table index, S - 1 - k
    t: torch.Tensor  # (B,) network timestep
    alpha_bar: float  # alpha_bar at t (float64 table value)
    x: torch.Tensor  # x_t, (B, ...)
    y: torch.Tensor  # (B,) labels; null_label = unconditional
    null_label: int
    all_null: bool  # every label is null: there is nothing to guide toward

    @property
    def alpha(self) -> float:
        return self.alpha_bar ** 0.5

    @property
    def sigma_vp(self) -> float:
        """sqrt(1 - alpha_bar): the noise std of x_t (eps's coefficient)."""
        return (1.0 - self.alpha_bar) ** 0.5

    @property
    def sigma(self) -> float:
        """The EDM noise level of x_t / sqrt(alpha_bar): sqrt((1 - alpha_bar) / alpha_bar)
        (Karras et al. 2022), the unit of the guidance interval."""
        return (1.0 / self.alpha_bar - 1.0) ** 0.5


class RunModel:
    """A denoiser bound to one run's network timesteps `times` (S,): `m(x, i, rows)` is its eps
    at table index i for x (B, ...) and rows = labels (k B,), k = 1 or 2 (then the B rows of x
    serve both halves).

    A model with the `embed_grid`/`trunk` split (`diffusion.models.layers.ConditionedDenoiser`)
    gets every step's condition embeddings in one call here and runs its label-free stem once per
    step; any other model is called as model(x, t, y) on the repeated batch.
    """

    def __init__(self, model, times: torch.Tensor):
        self.model, self.times = model, times
        self.grid = model.embed_grid(times) if hasattr(model, "embed_grid") else None

    def __call__(self, x: torch.Tensor, i: int, rows: torch.Tensor) -> torch.Tensor:
        if self.grid is None:
            k = len(rows) // len(x)
            t = self.times[i].expand(len(x))
            return self.model(torch.cat([x] * k), torch.cat([t] * k), rows)
        # (S, L, c) tables -> this step's (rows, c)
        return self.model.trunk(x, [g[i].index_select(0, rows) for g in self.grid])


@dataclass(frozen=True)
class Guider:
    """A guidance method: its parameters as fields; `name` is its key in `guidance.METHODS`."""
    name: ClassVar[str] = ""
    # Methods whose `combine` reads alpha_bar_t (the sampler passes the chain's table).
    needs_alpha_bar: ClassVar[bool] = True

    def __post_init__(self):
        for p in self.params().values():
            p.check(getattr(self, p.name))

    @classmethod
    def params(cls) -> dict[str, Param]:
        """name -> Param, defaults included: what the public input layer builds its checks from."""
        out = {}
        for f in fields(cls):
            meta = f.metadata.get("param")
            if meta is not None:
                out[f.name] = Param(f.name, default=None if f.default is MISSING else f.default, **meta)
        return out

    def new_state(self, times: torch.Tensor) -> Any:
        """The run's state object (None if the method keeps none); `times` (S,) network timesteps."""
        return None

    def branches(self, s: float, step: Step) -> str:
        """Which rows of the main network this step needs: one of BRANCHES."""
        raise NotImplementedError

    def combine(self, s: float, eps_c: torch.Tensor | None, eps_u: torch.Tensor | None,
                step: Step, state: Any) -> torch.Tensor:
        """The guided eps (B, ...) at scale s from the rows `branches` asked for (None: not computed)."""
        raise NotImplementedError


class TwoBranch(Guider):
    """A method that mixes the conditional and unconditional predictions of one network.

    When only one branch was computed the result is that branch: s = 1 (the conditional model),
    or every label null (cond = uncond). Subclasses give the mix of both in `guide`."""

    needs_alpha_bar: ClassVar[bool] = False

    def branches(self, s: float, step: Step) -> str:
        if step.all_null:
            return "uncond"
        return "cond" if s == 1 else "both"

    def combine(self, s, eps_c, eps_u, step, state):
        if eps_u is None:
            return eps_c
        if eps_c is None:
            return eps_u
        return self.guide(s, eps_c, eps_u, step, state)

    def guide(self, s: float, eps_c: torch.Tensor, eps_u: torch.Tensor, step: Step, state: Any) -> torch.Tensor:
        raise NotImplementedError


def per_sample(v: torch.Tensor) -> list[int]:
    """The non-batch dims of v: statistics per sample (diffusers' convention)."""
    return list(range(1, v.dim()))

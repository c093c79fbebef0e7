"""Every public parameter, defined once: its type, its range or choices, its help and its error.

The CLI, the Python API (`GuidedSampler`), the app's handlers and the named API endpoints all
check their inputs here, so a bad value gets the same message everywhere (`core.checks.invalid`):
the field, the value (cut to 80 characters) and what is allowed. Nothing is clamped or rounded:
3.0 is the integer 3, 3.7 is refused. Types and ranges are checked by pydantic in strict mode
(no str -> number, no bool -> number, no NaN or infinity).

    >>> GUIDANCE.check(2)          # 2.0
    >>> STEPS.check(0)             # ValueError: steps=0 is not allowed; allowed: an integer in 1..1000
    >>> STEPS.parse("3.7")         # the CLI's text: ValueError: steps=3.7 is not allowed; ...
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import Field, TypeAdapter, ValidationError

from .core.checks import first_line, invalid
from .core.sampling import SAMPLERS
from .worlds import World, get_world
from .worlds.labels import label_choices, label_index

__all__ = ["Param", "GUIDANCE", "STEPS", "SAMPLER", "ETA", "SEED", "EXACT", "n_param", "check_world",
           "check_label", "check_guidances", "SampleArgs", "sample_args", "Parser", "run", "first_line"]


@dataclass(frozen=True)
class Param:
    """One public parameter: a number in lo..hi, or one of `choices` (case-insensitive)."""
    name: str
    kind: type  # int, float or str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    def allowed(self) -> str:
        if self.choices:
            return ", ".join(self.choices)
        what = "an integer" if self.kind is int else "a number"
        return f"{what} in {_fmt(self.lo)}..{_fmt(self.hi)}"

    def check(self, value: Any):
        """The value, typed (int, float, or the canonical choice); ValueError otherwise."""
        if self.choices:
            key = value.strip().lower() if isinstance(value, str) else None
            if key not in self.choices:
                raise invalid(self.name, value, self.allowed())
            return key
        if isinstance(value, (np.integer, np.floating)):  # numpy scalars behave as Python numbers
            value = value.item()
        if self.kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)  # 3.0 is 3: no rounding happens
        try:
            return _adapter(self.kind, self.lo, self.hi).validate_python(value)
        except ValidationError:
            raise invalid(self.name, value, self.allowed()) from None

    def parse(self, text: str):
        """The CLI's text -> check: "5" -> 5, "3.7" -> refused for an integer, "abc" -> refused."""
        if self.choices or not isinstance(text, str):
            return self.check(text)
        try:
            value = int(text) if text.strip().lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise invalid(self.name, text, self.allowed()) from None
        return self.check(value)


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


_ADAPTERS: dict = {}


def _adapter(kind: type, lo, hi) -> TypeAdapter:
    key = (kind, lo, hi)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = TypeAdapter(Annotated[kind, Field(strict=True, ge=lo, le=hi, allow_inf_nan=False)])
    return _ADAPTERS[key]


GUIDANCE = Param("guidance", float, 0.0, 10.0,
                 help="guidance scale s: 0 = unconditional, 1 = conditional, > 1 amplifies")
STEPS = Param("steps", int, 1, 1000, help="sampling steps (network calls), 1..1000")
SAMPLER = Param("sampler", str, choices=SAMPLERS, help="the reverse-process sampler")
SAMPLER_NOTES = {  # one plain sentence each, for the app and the CLI's help
    "ddpm": "DDPM: the ancestral sampler of the paper, fresh noise at every step; needs many steps.",
    "ddim": "DDIM: deterministic at eta 0 (the same noise gives the same sample); fair at 25-50 steps.",
    "dpm++2m": "DPM-Solver++(2M): a second-order ODE solver that reuses the last step's x0; good in 10-20 steps.",
    "dpm++2m-sde": "DPM-Solver++(2M) SDE: the same with fresh noise each step, like DDPM, in a tenth of the steps.",
    "unipc": "UniPC: a predictor-corrector that refines each step with the new x0 at no extra network call."}
ETA = Param("eta", float, 0.0, 1.0, help="DDIM noise: 0 deterministic .. 1 (DDPM-like)")
SEED = Param("seed", int, 0, 2 ** 32 - 1, help="random seed: the same seed gives the same samples")
EXACT = Param("exact", int, 1, 20_000, help="training examples per class of the exact denoiser")
MAX_SCALES = 8


def n_param(world: World) -> Param:
    return Param("n", int, 1, world.sizes.max_n, help=f"number of {world.noun}")


def check_world(name) -> World:
    return get_world(name)


def check_label(label, names) -> str:
    """A class name, digit or "random" of `names` -> its canonical name."""
    if isinstance(label, bool) or not isinstance(label, (str, int, np.integer)):
        raise invalid("label", label, ", ".join(label_choices(names)))
    return label_choices(names)[label_index(label, names)]


def check_guidances(text) -> list[float]:
    """"0, 1, 2.5" (or a list of numbers) -> [0.0, 1.0, 2.5]: 1..MAX_SCALES guidance scales."""
    allowed = f"1..{MAX_SCALES} comma-separated guidance scales, each {GUIDANCE.allowed()}"
    if isinstance(text, (list, tuple)):
        parts = list(text)
    elif isinstance(text, str):
        parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    else:
        raise invalid("guidances", text, allowed)
    if not 1 <= len(parts) <= MAX_SCALES:
        raise invalid("guidances", text, allowed)
    return [GUIDANCE.parse(p.strip()) if isinstance(p, str) else GUIDANCE.check(p) for p in parts]


@dataclass(frozen=True)
class SampleArgs:
    """A checked, canonical sampling request (the engine's cache key is made from it)."""
    label: str
    guidance: float
    steps: int
    sampler: str
    eta: float
    seed: int
    n: int


def sample_args(world, names, label, guidance, steps, sampler, eta, seed, n) -> SampleArgs:
    """Check every sampling input of `world` (a World or its name) whose model knows `names`."""
    world = get_world(world)
    sampler = SAMPLER.check(sampler)
    eta = ETA.check(eta)
    return SampleArgs(check_label(label, names), GUIDANCE.check(guidance), STEPS.check(steps), sampler,
                      eta if sampler == "ddim" else 0.0, SEED.check(seed), n_param(world).check(n))


# -- the command lines --------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits with 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")

    def add_param(self, param: Param, default, flag: str | None = None, **kwargs) -> None:
        """--name, read as text and checked by `param` when main() calls `param.parse`."""
        self.add_argument(flag or f"--{param.name}", default=default, help=kwargs.pop("help", param.help)
                          + f" ({param.allowed()}; default {default})", **kwargs)


def run(main, argv=None) -> int:
    """Call main(argv); ValueError/RuntimeError (bad input, missing checkpoint) -> one line, exit 2."""
    try:
        return main(argv) or 0
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

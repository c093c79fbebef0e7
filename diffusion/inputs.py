"""Every public parameter, defined once: its type, its range or choices, its help and its error.

The CLI, the Python API (`GuidedSampler`), the app's handlers and the named API endpoints all
check their inputs here, so a bad value gets the same message everywhere (`core.checks.invalid`):
the field, the value (cut to 80 characters) and what is allowed. Nothing is clamped or rounded:
3.0 is the integer 3, 3.7 is refused. Types and ranges are checked by pydantic in strict mode
(no str -> number, no bool -> number, no NaN or infinity).

    >>> GUIDANCE.check(2)          # 2.0
    >>> STEPS.check(0)             # ValueError: steps=0 is not allowed; allowed: an integer in 1..1000
    >>> STEPS.parse("3.7")         # the CLI's text: ValueError: steps=3.7 is not allowed; ...
    >>> method_args("rescale", {"phi": 1.5})  # ValueError: phi=1.5 is not allowed; allowed: a number in 0..1

The guidance methods' parameters are not written here again: they are built from the core's
`PARAMS` (`core.guidance`), each under its public name (`METHOD_PARAMS`).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import Field, TypeAdapter, ValidationError

from .core.checks import first_line, invalid
from .core.guidance import METHODS, PARAMS, make_guider
from .core.sampling import SAMPLERS
from .core.schedules import SPACINGS
from .worlds import World, get_world
from .worlds.labels import label_choices, label_index

__all__ = ["Param", "GUIDANCE", "STEPS", "SAMPLER", "ETA", "SEED", "EXACT", "METHOD", "METHOD_PARAMS",
           "n_param", "check_world", "check_label", "check_guidances", "check_methods", "method_args",
           "SampleArgs", "sample_args", "Parser", "run", "first_line"]


@dataclass(frozen=True)
class Param:
    """One public parameter: a number in lo..hi, or one of `choices` (case-insensitive). A bound
    may be open (`lo_open`, `hi_open`: the bound itself is refused); hi = inf admits infinity
    itself (e.g. no upper end of the guidance interval); None means unbounded."""
    name: str
    kind: type  # int, float or str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    lo_open: bool = False
    hi_open: bool = False

    def allowed(self) -> str:
        if self.choices:
            return ", ".join(self.choices)
        what = "an integer" if self.kind is int else "a number"
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None and hi != float("inf"):
            out = f"{what} in {_fmt(lo)}..{_fmt(hi)}"
            ends = [_fmt(b) for b, o in ((lo, self.lo_open), (hi, self.hi_open)) if o]
            return out + (f", excluding {' and '.join(ends)}" if ends else "")
        if lo is None:
            return f"{what} {'<' if self.hi_open else '<='} {_fmt(hi)}" if hi is not None else what
        out = f"{what} {'>' if self.lo_open else '>='} {_fmt(lo)}"
        return out + (", or inf (no upper end)" if hi == float("inf") else "")

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
        if isinstance(value, float) and value != value:  # NaN: refused even where inf is allowed
            raise invalid(self.name, value, self.allowed())
        try:
            return _adapter(self.kind, self.lo, self.hi, self.lo_open, self.hi_open).validate_python(value)
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


def _adapter(kind: type, lo, hi, lo_open: bool = False, hi_open: bool = False) -> TypeAdapter:
    key = (kind, lo, hi, lo_open, hi_open)
    if key not in _ADAPTERS:
        inf = hi == float("inf")  # infinity is a value here, not a bound to compare with
        hi = None if inf else hi
        limits = dict(gt=lo if lo_open else None, ge=None if lo_open else lo,
                      lt=hi if hi_open else None, le=None if hi_open else hi)
        _ADAPTERS[key] = TypeAdapter(Annotated[kind, Field(strict=True, allow_inf_nan=inf, **limits)])
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
SPACING = Param("spacing", str, choices=SPACINGS,
                help="how a run's steps are spaced: uniform in t, uniform in log-SNR (denser at low noise), "
                     "or logsnr-clipped: the same from SNR 1 down, after one jump from pure noise "
                     "(for stochastic samplers)")
ETA = Param("eta", float, 0.0, 1.0, help="DDIM noise: 0 deterministic .. 1 (DDPM-like)")
SEED = Param("seed", int, 0, 2 ** 32 - 1, help="random seed: the same seed gives the same samples")
EXACT = Param("exact", int, 1, 20_000, help="training examples per class of the exact denoiser")
MAX_SCALES = 8
METHOD = Param("method", str, choices=METHODS, help="the guidance method (cfg: classifier-free guidance)")


def _public_params() -> dict[str, dict[str, Param]]:
    """method -> core name -> its public Param, from the core's `PARAMS` (the one definition).
    The public name is the core's, or method_name where that is taken by another public input or
    another method's parameter (apg's eta is `apg_eta`: `eta` is DDIM's). Models (autoguidance's
    weak model, the classifier) are not public inputs: the sampler supplies them."""
    taken = {"guidance", "steps", "sampler", "eta", "seed", "n", "label", "world", "method", "methods", "exact"}
    names = [k for ps in PARAMS.values() for k in ps]
    out = {}
    for method, params in PARAMS.items():
        out[method] = {}
        for k, p in params.items():
            if p.kind == "model":
                continue
            public = f"{method}_{k}" if k in taken or names.count(k) > 1 else k
            kind = {"float": float, "int": int, "choice": str}[p.kind]
            out[method][k] = Param(public, kind, p.low, p.high, p.choices, f"{method}: {p.doc}",
                                   p.low_open, p.high_open)
    return out


METHOD_PARAMS = _public_params()
# public name -> (method, core name, Param): what the CLI, the API and the app offer.
PUBLIC_PARAMS = {p.name: (m, k, p) for m, ps in METHOD_PARAMS.items() for k, p in ps.items()}
MethodArgs = tuple[str, tuple[tuple[str, Any], ...]]


def param_default(public: str):
    method, core, _ = PUBLIC_PARAMS[public]
    return PARAMS[method][core].default


def method_args(method, values: dict | None = None, strict: bool = True) -> MethodArgs:
    """A method and its parameters by public name -> (method, ((core name, value), ...)), every
    parameter of the method present (defaults filled in), checked with its public name. None
    means the default. `strict`: another method's parameter is refused (CLI, Python API);
    otherwise it is checked and then ignored (the app and the named API send every parameter
    every time: a NaN is refused even where it would be ignored)."""
    method = METHOD.check(method)
    mine = {p.name: k for k, p in METHOD_PARAMS[method].items()}
    chosen = {}
    for public, value in (values or {}).items():
        if public not in PUBLIC_PARAMS:
            raise invalid("parameter", public, ", ".join(PUBLIC_PARAMS))
        if public in mine:
            if value is not None:
                chosen[mine[public]] = METHOD_PARAMS[method][mine[public]].check(value)
        elif strict and value is not None:
            raise invalid(public, value, f"only with method={PUBLIC_PARAMS[public][0]}")
        elif value is not None:
            PUBLIC_PARAMS[public][2].check(value)
    full = {k: chosen.get(k, PARAMS[method][k].default) for k in METHOD_PARAMS[method]}
    if not any(p.kind == "model" for p in PARAMS[method].values()):
        make_guider(method, **full)  # the checks across parameters (e.g. sigma_lo < sigma_hi)
    return method, tuple(full.items())


def _comma_list(field: str, text, allowed: str, most: int) -> list:
    """A list, or text split at commas (or semicolons) -> its 1..most parts; else the field's error."""
    if isinstance(text, (list, tuple)):
        parts = list(text)
    elif isinstance(text, str):
        parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    else:
        raise invalid(field, text, allowed)
    if not 1 <= len(parts) <= most:
        raise invalid(field, text, allowed)
    return parts


def check_methods(text) -> list[str]:
    """"cfg, interval" (or a list) -> ["cfg", "interval"]: 1..len(METHODS) distinct methods."""
    allowed = f"1..{len(METHODS)} comma-separated methods of: {', '.join(METHODS)}"
    parts = _comma_list("methods", text, allowed, len(METHODS))
    try:
        return list(dict.fromkeys(METHOD.check(p) for p in parts))
    except ValueError:
        raise invalid("methods", text, allowed) from None


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
    parts = _comma_list("guidances", text, allowed, MAX_SCALES)
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
    method: str = "cfg"
    method_params: tuple[tuple[str, Any], ...] = ()  # (core name, value), every parameter of the method


def sample_args(world, names, label, guidance, steps, sampler, eta, seed, n, method="cfg",
                method_params: dict | None = None, strict: bool = True) -> SampleArgs:
    """Check every sampling input of `world` (a World or its name) whose model knows `names`;
    the method's parameters by public name (see `method_args`)."""
    world = get_world(world)
    sampler = SAMPLER.check(sampler)
    eta = ETA.check(eta)
    method, params = method_args(method, method_params, strict)
    return SampleArgs(check_label(label, names), GUIDANCE.check(guidance), STEPS.check(steps), sampler,
                      eta if sampler == "ddim" else 0.0, SEED.check(seed), n_param(world).check(n), method, params)


# -- the command lines --------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits with 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")

    def add_param(self, param: Param, default, flag: str | None = None, **kwargs) -> None:
        """--name, read as text and checked by `param` when main() calls `param.parse`."""
        self.add_argument(flag or f"--{param.name}", default=default, help=kwargs.pop("help", param.help)
                          + f" ({param.allowed()}; default {default})", **kwargs)

    def add_spacing(self) -> None:
        """--spacing, read as text; `spacing_of(args)` gives None (the world's) or the checked one."""
        self.add_argument("--spacing", default=None, help=f"{SPACING.help} ({SPACING.allowed()}; default: the world's)")

    def add_method_params(self, with_method: bool = True) -> None:
        """--method and one flag per method parameter (--phi, --apg-eta, ...), read as text."""
        if with_method:
            self.add_param(METHOD, "cfg")
        group = self.add_argument_group("guidance method parameters (each only with its method)")
        for public, (method, core, p) in PUBLIC_PARAMS.items():
            group.add_argument(f"--{public.replace('_', '-')}", default=None, dest=public, metavar="V",
                               help=f"{p.help} ({p.allowed()}; default {param_default(public)})")


def spacing_of(args) -> str | None:
    """--spacing parsed, or None: the world's (`GuidedSampler.spacing_for`)."""
    return None if args.spacing is None else SPACING.parse(args.spacing)


def method_params_of(args) -> dict:
    """The method parameters given on a command line, by public name, parsed from their text."""
    return {k: PUBLIC_PARAMS[k][2].parse(getattr(args, k)) for k in PUBLIC_PARAMS if getattr(args, k) is not None}


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

"""Guidance methods side by side (`--methods`): each method through the same guidance scales,
same model, sampler, seeds and judge as `samplers_report` (DigitJudge: FLD and accuracy of 100
digits per class; CurveJudge: distance and coverage, the mean over the patterns), as a table and
a frontier plot: one curve per method through its scales, MNIST accuracy (y) against FLD (x),
points distance (y) against coverage (x).

A method runs with its default parameters (the paper's), unless the command line gives some
(--phi 0.5 applies to rescale). autoguidance and classifier use the world's shipped weak model
and noise-aware classifier (with --exact: the exact ones of the pool).
"""
from __future__ import annotations

import numpy as np

from ..core.checks import invalid
from ..drawing import plots
from ..inputs import PUBLIC_PARAMS, method_args
from .sample_cache import Stopwatch, seconds_note, seconds_text


def method_guides(sampler, methods: list[str], params: dict) -> dict[str, dict]:
    """method -> the keyword arguments of `GuidedSampler.sample` for it (method and its given
    parameters); a parameter of no listed method is refused, and a missing weak model or
    classifier is reported before the first (long) run."""
    for public, value in params.items():
        if PUBLIC_PARAMS[public][0] not in methods:
            raise invalid(public, value, f"only with method={PUBLIC_PARAMS[public][0]} in --methods")
    guides = {}
    for m in methods:
        mine = {k: v for k, v in params.items() if PUBLIC_PARAMS[k][0] == m}
        sampler.guider(*method_args(m, mine))  # checks, and loads the models it needs
        guides[m] = {"method": m, **mine}
    return guides


def describe_params(method: str, params: dict) -> str:
    """The parameters of a method as given on the command line ("defaults" when none)."""
    mine = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
            if PUBLIC_PARAMS[k][0] == method]
    return ", ".join(mine) or "defaults"


def methods_report(sampler, judge, args) -> tuple[list[dict], str, str]:
    """Rows (method, parameters, guidance, the judge's two measures, seconds), the Markdown
    table and its note. args: methods, method_params (by public name), guidance, steps, sampler, seed."""
    guides = method_guides(sampler, args.methods, args.method_params)
    rows = []
    for m, guide in guides.items():
        for g in args.guidance or [1.0, 2.0, 3.0]:
            watch = Stopwatch(getattr(args, "cache", None))
            row = {"method": m, "parameters": describe_params(m, args.method_params), "guidance": g,
                   **judge(sampler, g, args.steps, args.sampler, guide)}
            row["seconds"] = watch.seconds()
            rows.append(row)
    a, b = judge.names
    lines = [f"| method | parameters | guidance | {a} | {b} | time (s) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['parameters']} | {r['guidance']:g} | {r[a]:.4g} | {r[b]:.4g} | "
              f"{seconds_text(r['seconds'])} |" for r in rows]
    return rows, "\n".join(lines), note(rows, judge, args)


def note(rows: list[dict], judge, args) -> str:
    x, y = judge.frontier
    best = []
    for m in dict.fromkeys(r["method"] for r in rows):
        r = min((r for r in rows if r["method"] == m), key=lambda r: r[x])
        best.append(f"{m} {r[x]:.4g} at s = {r['guidance']:g} ({y} {r[y]:.4g})")
    return (f"{judge.describe()}; {args.steps} {args.sampler} steps, seed {args.seed}; the same seeds for every "
            f"method and scale. Lowest {x} per method: " + "; ".join(best) + "." + seconds_note(rows))


def methods_plot(rows: list[dict], judge, title: str = "") -> np.ndarray:
    """The frontier: judge.frontier = (x, y), the measure a method trades away (FLD, coverage:
    lower is better) and the one it buys with guidance (accuracy: higher; distance: lower)."""
    x, y = judge.frontier
    curves = {}
    for r in rows:
        curves.setdefault(r["method"], []).append((r[x], r[y], r["guidance"]))
    return plots.frontier_png(curves, x, y, title)

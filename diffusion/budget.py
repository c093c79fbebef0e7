"""The app's one cost budget: what a single request may cost before any sampling runs.

A request's cost is the work its runs do, in units of one MNIST digit through one guided step
(two network rows): for each run, n x steps x the world's `Sizes.step_cost` x the method's
factor (`Sizes.method_cost`; cfg at scale 0 or 1, or for "random", needs one row, not two: half)
x the exact reference's factor when it is the denoiser (`Sizes.exact_cost`). A comparison costs
the sum of its cells. The factors are measured (on 2 shared cores: see the README's Reliability).

The budget is not a number of its own: it is the cost of the heaviest run the app promises, each
world's `Sizes.admit_n` samples at its default steps with guidance (MNIST: 160 digits at 20
steps), so it follows the worlds' defaults. Every other default of the app costs less (tested).
The CLI and the Python API have no budget: there the caller pays.

    >>> check_budget("mnist", [sample_args("mnist", DIGITS, "3", 2, 20, "dpm++2m-sde", 0, 0, 160)])  # 3200.0
    >>> check_budget("mnist", [sample_args("mnist", DIGITS, "3", 2, 1000, "ddpm", 0, 0, 160)])
    ValueError: cost=160000 is not allowed (160 digits x 1000 steps, cfg); allowed: at most 3200 per request ...
"""
from __future__ import annotations

from .core.guidance import doubles_batch
from .inputs import SampleArgs
from .worlds import get_world, world_names
from .worlds.labels import RANDOM


def run_cost(world, a: SampleArgs, exact: bool = False) -> float:
    """The cost of one sampling run of `world` (a World or its name); `exact`: by the exact reference."""
    sizes = get_world(world).sizes
    factor = dict(sizes.method_cost).get(a.method, 1.0) * (sizes.exact_cost if exact else 1.0)
    if a.method == "cfg" and not doubles_batch(a.guidance, a.label == RANDOM):
        factor *= 0.5
    return a.n * a.steps * sizes.step_cost * factor


def admitted(world) -> float:
    """The cost of the run the app promises `world` can always do: admit_n samples at its default
    steps with guidance (two network rows a step)."""
    w = get_world(world)
    return w.sizes.admit_n * w.sampling["steps"] * w.sizes.step_cost


def heaviest():
    """The world whose promised run costs the most: that run is the heaviest request allowed."""
    return max(map(get_world, world_names()), key=admitted)


def budget() -> tuple[float, str]:
    """The most one request may cost, and what that is (the heaviest world's promised run)."""
    w = heaviest()
    return admitted(w), f"{w.sizes.admit_n} {w.noun} at {w.sampling['steps']} guided steps"


def check_budget(world, runs: list[SampleArgs], exact: bool = False) -> float:
    """The total cost of these runs (one request); ValueError naming the limit if it is over budget."""
    world = get_world(world)
    total = sum(run_cost(world, a, exact) for a in runs)
    limit, what_fits = budget()
    if total > limit:
        a = max(runs, key=lambda r: run_cost(world, r, exact))
        what = f"{a.n} {world.noun} x {a.steps} steps, {a.method}" + (", exact reference" if exact else "")
        what += f", {len(runs)} runs" if len(runs) > 1 else ""
        raise ValueError(f"cost={total:.0f} is not allowed ({what}); allowed: at most {limit:g} per request "
                         f"({what_fits}; cost = samples x steps x the world's, method's and denoiser's cost "
                         "per step); ask for fewer samples, steps, scales or methods")
    return total

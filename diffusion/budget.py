"""The app's one cost budget: what a single request may cost before any sampling runs.

A request's cost is the work its runs do, in units of one MNIST digit through one guided step
(two network rows): for each run, n x steps x the world's `Sizes.step_cost` x the method's
factor (`Sizes.method_cost`; cfg at scale 0 or 1, or for "random", needs one row, not two: half).
A comparison costs the sum of its cells. BUDGET admits every default of the app and 64 digits at
100 guided DDPM steps, and no more: on the reference machine (2 shared cores) that is the heaviest
request, measured by `make soak`. The CLI and the Python API have no budget: there the caller pays.

    >>> check_budget("mnist", [sample_args("mnist", DIGITS, "3", 2, 100, "ddpm", 0, 0, 64)])  # 6400.0
    >>> check_budget("mnist", [sample_args("mnist", DIGITS, "3", 2, 1000, "ddpm", 0, 0, 64)])
    ValueError: cost=64000 is not allowed (64 digits x 1000 steps, cfg); allowed: at most 6400 per request ...
"""
from __future__ import annotations

from .core.guidance import doubles_batch
from .inputs import SampleArgs
from .worlds import get_world
from .worlds.labels import RANDOM

BUDGET = 6400.0  # 64 MNIST digits x 100 guided steps
BUDGET_TEXT = (f"at most {BUDGET:g} per request (64 MNIST digits at 100 guided steps; "
               "cost = samples x steps x the world's and method's cost per step)")


def run_cost(world, a: SampleArgs) -> float:
    """The cost of one sampling run of `world` (a World or its name)."""
    sizes = get_world(world).sizes
    factor = dict(sizes.method_cost).get(a.method, 1.0)
    if a.method == "cfg" and not doubles_batch(a.guidance, a.label == RANDOM):
        factor = 0.5
    return a.n * a.steps * sizes.step_cost * factor


def check_budget(world, runs: list[SampleArgs]) -> float:
    """The total cost of these runs (one request); ValueError naming the limit if it is over BUDGET."""
    world = get_world(world)
    total = sum(run_cost(world, a) for a in runs)
    if total > BUDGET:
        a = max(runs, key=lambda r: run_cost(world, r))
        what = f"{a.n} {world.noun} x {a.steps} steps, {a.method}"
        what += f", {len(runs)} runs" if len(runs) > 1 else ""
        raise ValueError(f"cost={total:.0f} is not allowed ({what}); allowed: {BUDGET_TEXT}; "
                         "ask for fewer samples, steps, scales or methods")
    return total

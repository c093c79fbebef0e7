"""The guidance comparison: one label, one seed, several guidance methods x several guidance
scales, all from the same initial noise (the same seed gives the same x_T and, for DDPM, the same
noise at every step), with the world's measures per cell (`World.measure`: 2D distance to the
pattern, coverage and spread; MNIST LeNet accuracy, diversity and FLD) and its frontier: one curve
per method through its scales (`World.frontier`: MNIST accuracy against FLD, 2D distance against
coverage).

Each cell is an ordinary engine request, so its result is cached and shared with the world tabs.
`compare_stream` yields the comparison after every finished cell, so a UI shows each as it comes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ..budget import check_budget
from ..inputs import check_guidances, check_methods
from ..worlds import World, get_world
from .engine import SHIPPED, Engine, Request, Result

DEFAULT_GUIDANCES = "0, 1, 2, 3, 5, 7"
DEFAULT_METHODS = "cfg"


@dataclass
class Cell:
    method: str
    guidance: float
    result: Result
    metrics: dict


@dataclass
class Comparison:
    world: World
    label: str
    seed: int
    guidances: list[float]
    methods: list[str]
    requests: list[Request]  # method-major: every scale of the first method, then the next method's
    cells: list[Cell] = field(default_factory=list)  # the finished ones, in the order of `requests`

    @property
    def done(self) -> bool:
        return len(self.cells) == len(self.requests)

    @property
    def results(self) -> list[Result]:
        return [c.result for c in self.cells]

    @property
    def metrics(self) -> list[dict]:
        return [c.metrics for c in self.cells]

    @property
    def measures(self) -> list[str]:
        """The measures shown: the world's two, then its frontier's if they are others."""
        return list(dict.fromkeys([*self.world.metric_names, *self.world.frontier]))

    def table(self) -> list[list]:
        """Rows for a table: method, guidance, then each measure."""
        return [[c.method, c.guidance, *(round(c.metrics[k], 4) for k in self.measures)] for c in self.cells]

    @property
    def headers(self) -> list[str]:
        named = dict(zip(self.world.metric_names, self.world.metric_headers(self.label)))
        return ["method", "guidance", *(named.get(k, k) for k in self.measures)]

    def frontier(self) -> dict[str, list[tuple[float, float, float]]]:
        """method -> (x, y, guidance) of its finished cells (`World.frontier` = (x, y))."""
        x, y = self.world.frontier
        out: dict[str, list] = {m: [] for m in self.methods}
        for c in self.cells:
            out[c.method].append((c.metrics[x], c.metrics[y], c.guidance))
        return out

    def as_json(self) -> dict:
        metrics = [{"method": c.method, "guidance": c.guidance, **c.metrics} for c in self.cells]
        return {"world": self.world.name, "label": self.label, "seed": self.seed, "methods": self.methods,
                "guidances": self.guidances, "metrics": metrics}


def compare_stream(engine: Engine, world, label, seed, guidances, methods=DEFAULT_METHODS,
                   method_params: dict | None = None, model: str = SHIPPED, steps: int | None = None,
                   sampler: str | None = None) -> Iterator[Comparison]:
    """Each (method, scale) run with the world's comparison sampler (or the given steps and
    sampler); every input, and the total cost, is checked before the first run. Yields the comparison after each cell."""
    world = get_world(world)
    scales, names = check_guidances(guidances), check_methods(methods)
    steps, sampler = steps or world.compare["steps"], sampler or world.compare["sampler"]
    reqs = [engine.request(world, model, label, g, steps, sampler, 0.0, seed, world.sizes.compare_n, m, method_params)
            for m in names for g in scales]
    check_budget(world, reqs)  # the whole comparison is one request
    c = Comparison(world, reqs[0].label, reqs[0].seed, scales, names, reqs)
    for r in reqs:
        res = engine.run(r)
        c.cells.append(Cell(r.method, r.guidance, res, world.measure(c.label, res.samples)))
        yield c


def compare(engine: Engine, world, label, seed, guidances, model: str = SHIPPED, steps: int | None = None,
            sampler: str | None = None, methods=DEFAULT_METHODS, method_params: dict | None = None) -> Comparison:
    """The whole comparison at once (see `compare_stream`)."""
    for c in compare_stream(engine, world, label, seed, guidances, methods, method_params, model, steps, sampler):
        pass
    return c

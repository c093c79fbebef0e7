"""The guidance comparison: one label, one seed, several guidance scales, all from the same
initial noise (the same seed gives the same x_T and, for DDPM, the same noise at every step), with
the world's two measures per scale (`World.measure`: 2D distance to the pattern and spread, MNIST
LeNet accuracy and diversity).

Each scale is an ordinary engine request, so its result is cached and shared with the world tabs.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..inputs import check_guidances
from ..worlds import World, get_world
from .engine import Engine, Result

DEFAULT_GUIDANCES = "0, 1, 2, 3, 5, 7"


@dataclass
class Comparison:
    world: World
    label: str
    seed: int
    guidances: list[float]
    results: list[Result]
    metrics: list[dict]

    def table(self) -> list[list]:
        """Rows for a table: guidance, then the world's two measures."""
        return [[g, *(round(m[k], 4) for k in self.world.metric_names)]
                for g, m in zip(self.guidances, self.metrics)]

    @property
    def headers(self) -> list[str]:
        return ["guidance", *self.world.metric_headers(self.label)]


def compare(engine: Engine, world, label, seed, guidances, model: str = "shipped",
            steps: int | None = None, sampler: str | None = None) -> Comparison:
    """Each scale's run with the world's comparison sampler (or the given steps and sampler)."""
    world = get_world(world)
    scales = check_guidances(guidances)
    steps, sampler = steps or world.compare["steps"], sampler or world.compare["sampler"]
    reqs = [engine.request(world, model, label, g, steps, sampler, 0.0, seed, world.sizes.compare_n)
            for g in scales]
    results = [engine.run(r) for r in reqs]
    metrics = [world.measure(reqs[0].label, r.samples) for r in results]
    return Comparison(world, reqs[0].label, reqs[0].seed, scales, results, metrics)

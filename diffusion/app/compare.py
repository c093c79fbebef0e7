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
from ..worlds import points_drawn as drawn
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
    s = engine.models.get(world, model)
    check_budget(world, reqs, exact=s.is_exact)  # the whole comparison is one request
    c = Comparison(world, reqs[0].label, reqs[0].seed, scales, names, reqs)
    for r in reqs:
        res = engine.run(r)
        measured = world.measure(c.label, res.samples) if s.data is None else drawn.measure(s.data, c.label,
                                                                                             res.samples)
        c.cells.append(Cell(r.method, r.guidance, res, measured))
        yield c


def compare(engine: Engine, world, label, seed, guidances, model: str = SHIPPED, steps: int | None = None,
            sampler: str | None = None, methods=DEFAULT_METHODS, method_params: dict | None = None) -> Comparison:
    """The whole comparison at once (see `compare_stream`)."""
    for c in compare_stream(engine, world, label, seed, guidances, methods, method_params, model, steps, sampler):
        pass
    return c


def trend(scales: list[float], values: list[float]) -> str:
    """How a measure moves as s grows, in words, from the values themselves: "rises" or "falls"
    only when every step goes that way (changes under 1% of the largest value count as flat)."""
    pairs = sorted(zip(scales, values))
    s, v = [p[0] for p in pairs], [p[1] for p in pairs]
    lo, hi = min(range(len(v)), key=v.__getitem__), max(range(len(v)), key=v.__getitem__)
    tol = 0.01 * max(abs(x) for x in v)
    if len(v) == 1:
        return f"is {v[0]:.3g} at s = {s[0]:g}"
    if v[hi] - v[lo] <= tol:
        return f"stays at about {v[0]:.3g} for every s"
    steps = [b - a for a, b in zip(v, v[1:])]
    ends = f"from {v[0]:.3g} (s = {s[0]:g}) to {v[-1]:.3g} (s = {s[-1]:g})"
    if all(d >= -tol for d in steps) and v[-1] > v[0]:
        return "rises " + ends
    if all(d <= tol for d in steps) and v[-1] < v[0]:
        return "falls " + ends
    return f"is not monotonic in s: lowest {v[lo]:.3g} at s = {s[lo]:g}, highest {v[hi]:.3g} at s = {s[hi]:g}"


def caption(c: Comparison) -> str:
    """The text under the comparison, written from its measured values: what each measure means
    and which way is better, then per method how each one moves with s and where it is best."""
    named = dict(zip(c.headers[2:], c.measures))
    notes = c.world.measure_notes
    lines = ["**The measures.** " + " ".join(
        f"*{h}*: {notes.get(k, ('', ''))[0]}" + (f" ({notes[k][1]} is better)." if notes.get(k, ('', ''))[1] else ".")
        for h, k in named.items())]
    for m in c.methods:
        cells = [x for x in c.cells if x.method == m]
        if not cells:
            continue
        scales = [x.guidance for x in cells]
        said = []
        for h, k in named.items():
            values = [x.metrics[k] for x in cells]
            text = f"{h} {trend(scales, values)}"
            better = notes.get(k, ("", ""))[1]
            if better and len(set(values)) > 1:
                best = (min if better == "lower" else max)(range(len(values)), key=values.__getitem__)
                text += f", best at s = {scales[best]:g}"
            said.append(text)
        done = "" if len(cells) == len(c.guidances) else f" ({len(cells)} of {len(c.guidances)} scales so far)"
        lines.append(f"**Measured, {m}{done}:** " + "; ".join(said) + ".")
    return "\n\n".join(lines + [c.world.frontier_note])

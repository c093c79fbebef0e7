"""The guidance comparison: one label, one seed, several guidance scales, all from the same
initial noise (the same seed gives the same x_T and, for DDPM, the same noise at every step), with
measured quality per scale:

  points  distance: mean distance from a sample to the requested pattern (to the nearest of all
          patterns for "random"); spread: mean distance from the centroid (diversity).
  mnist   accuracy: share that our LeNet classifies as the requested digit (for "random": the
          share of the 10 digits that appear at all); diversity: mean pairwise pixel distance.

Each scale is an ordinary engine request, so its result is cached and shared with the world tabs.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .engine import Engine, Result
from .labels import RANDOM
from .metrics import mean_pairwise_distance, nearest_distance, spread
from .points import curve_points
from .sampling import MAX_GUIDANCE

# Per world: samples per scale and the sampler. MNIST uses DDIM so six scales stay a few seconds.
SETTINGS = {"points": dict(n=1000, steps=100, sampler="ddpm"),
            "mnist": dict(n=24, steps=25, sampler="ddim")}
DEFAULT_GUIDANCES = "0, 1, 2, 3, 5, 7"
MAX_SCALES = 8

_judge = None
_judge_lock = threading.Lock()


def parse_guidances(text) -> list[float]:
    """"0, 1, 2.5" -> [0.0, 1.0, 2.5]; ValueError naming the bad entry and the allowed range."""
    parts = [p for p in str(text).replace(";", ",").split(",") if p.strip()] if text is not None else []
    if not 1 <= len(parts) <= MAX_SCALES:
        raise ValueError(f"guidances={text!r}: give 1..{MAX_SCALES} comma-separated scales, e.g. "
                         f"{DEFAULT_GUIDANCES!r}")
    out = []
    for p in parts:
        try:
            g = float(p)
        except ValueError:
            raise ValueError(f"guidance {p.strip()!r} is not a number; allowed 0..{MAX_GUIDANCE:g}") from None
        if not 0 <= g <= MAX_GUIDANCE:
            raise ValueError(f"guidance={g:g} is out of range: allowed 0..{MAX_GUIDANCE:g}")
        out.append(g)
    return out


def judge():
    """Our LeNet (checkpoints/lenet), loaded once."""
    global _judge
    with _judge_lock:
        if _judge is None:
            from .checkpoint import default_checkpoint, load_checkpoint
            _judge = load_checkpoint(default_checkpoint("lenet"), "lenet").model
        return _judge


def classify(digits01: np.ndarray) -> np.ndarray:
    from .evaluate_mnist import classify as lenet_classify
    return lenet_classify(judge(), digits01)[0]


def measure(world: str, label: str, samples: np.ndarray, names: list[str]) -> dict:
    """Quality of one set of final samples (public data format) for the requested label."""
    if world == "points":
        targets = names if label == RANDOM else [label]
        curve = np.concatenate([curve_points(k) for k in targets])
        return {"distance": float(nearest_distance(samples, curve).mean()), "spread": spread(samples)}
    pred = classify(samples)
    acc = len(np.unique(pred)) / 10 if label == RANDOM else float(np.mean(pred == int(label)))
    return {"accuracy": acc, "diversity": mean_pairwise_distance(samples.reshape(len(samples), -1))}


@dataclass
class Comparison:
    world: str
    label: str
    seed: int
    guidances: list[float]
    results: list[Result]
    metrics: list[dict]

    def table(self) -> list[list]:
        """Rows for a table: guidance, then the world's two measures."""
        keys = ("distance", "spread") if self.world == "points" else ("accuracy", "diversity")
        return [[g, *(round(m[k], 4) for k in keys)] for g, m in zip(self.guidances, self.metrics)]

    @property
    def headers(self) -> list[str]:
        if self.world == "points":
            return ["guidance", "distance to pattern", "spread"]
        return ["guidance", "LeNet accuracy" if self.label != RANDOM else "digits present", "diversity"]


def compare(engine: Engine, world: str, label, seed, guidances, model: str = "shipped") -> Comparison:
    scales = parse_guidances(guidances) if isinstance(guidances, str) else list(guidances)
    cfg = SETTINGS.get(world, SETTINGS["points"])
    reqs = [engine.request(world, model, label, g, cfg["steps"], cfg["sampler"], 0.0, seed, cfg["n"])
            for g in scales]
    names = list(engine.models.get(world, model).checkpoint.config.labels)
    results = [engine.run(r) for r in reqs]
    metrics = [measure(world, reqs[0].label, r.samples, names) for r in results]
    return Comparison(world, reqs[0].label, reqs[0].seed, scales, results, metrics)

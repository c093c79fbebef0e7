"""Choosing a weak model for autoguidance by measurement: plain CFG through its scales, and
autoguidance (Karras et al. 2024) with each candidate weak model through its scales, from the same
strong denoiser, seeds, sampler and steps, judged on the world's two measures:

  mnist   fidelity: accuracy of our LeNet judge on the requested digit (higher is better);
          diversity: FLD against the 10k test digits, LeNet features (lower is better)
  points  fidelity: distance from a sample to its curve (lower is better);
          diversity: coverage, distance from a curve point to the nearest sample (lower is better)

"At equal fidelity": each autoguidance row is set beside the best diversity measure that CFG
reaches, over its scales, at that fidelity or better (CFG's frontier). delta < 0 means
autoguidance reaches that fidelity with a better diversity measure than CFG can. A candidate's score is its best
(lowest) delta; the chosen candidate has the lowest score.

    python -m diffusion.evaluate mnist-weak --candidates runs/a runs/b --guidance 1.5 2 3 \
        --cfg-guidance 1 2 3 5 --n-per-class 20 --steps 25 --sampler ddim [--update-card]
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core.guidance import make_guider
from ..core.metrics import curve_fit, frechet_distance
from ..core.sampling import sample
from ..models.checkpoint import Checkpoint
from ..worlds import get_world
from ..worlds.mnist import MNIST, classify, judge
from ..worlds.mnist_data import load_mnist
from ..worlds.points import POINTS, curve_points
from .mnist_report import diversity


@dataclass(frozen=True)
class Measure:
    fidelity: str  # the first measure's key
    higher_is_better: bool  # of fidelity; the diversity measure is always lower-is-better
    spread: str  # the second measure's key


class DigitMeasure:
    measure = Measure("accuracy", True, "fld")

    def __init__(self):
        self.lenet = judge()
        _, self.test_feats = classify(self.lenet, MNIST.to_data(load_mnist("test")[0]))

    def __call__(self, samples: np.ndarray, y: np.ndarray, labels: list[str]) -> dict:
        pred, feats = classify(self.lenet, samples)
        return {"accuracy": float(np.mean(pred == y)), "fld": frechet_distance(feats, self.test_feats),
                "diversity": diversity(samples, y)}


class CurveMeasure:
    measure = Measure("distance", False, "coverage")

    def __call__(self, samples: np.ndarray, y: np.ndarray, labels: list[str]) -> dict:
        fits = [curve_fit(samples[y == k], curve_points(name)) for k, name in enumerate(labels)]
        return {m: float(np.mean([f[m] for f in fits])) for m in ("distance", "coverage")}


MEASURES = {MNIST.name: DigitMeasure, POINTS.name: CurveMeasure}


def generate(strong: Checkpoint, method, guidance: float, n_per_class: int, steps: int, sampler: str,
             seed: int, spacing: str = "uniform") -> tuple[np.ndarray, np.ndarray]:
    """n_per_class samples of every class (public data) and their labels, one batch, seeded noise."""
    world = get_world(strong.config.world)
    k = len(strong.config.labels)
    y = torch.arange(k).repeat_interleave(n_per_class)
    traj = sample(strong.model, strong.diffusion, y, world.sample_shape, k, keep_trajectory=False,
                  guidance=guidance, steps=steps, sampler=sampler, generator=torch.Generator().manual_seed(seed),
                  method=method, spacing=spacing)
    return world.to_data(traj.samples), y.numpy()


def at_equal_fidelity(row: dict, cfg_rows: list[dict], m: Measure) -> float:
    """The best (lowest) diversity measure that CFG reaches at row's fidelity or better; for a row
    more faithful than every CFG scale, that of CFG's most faithful scale. A step frontier, not an
    interpolation: with few samples per row the measures are noisy and need not be monotone in s."""
    sign = 1.0 if m.higher_is_better else -1.0
    good = [r[m.spread] for r in cfg_rows if sign * r[m.fidelity] >= sign * row[m.fidelity]]
    if good:
        return float(min(good))
    return float(max(cfg_rows, key=lambda r: sign * r[m.fidelity])[m.spread])


def autoguidance_report(strong: Checkpoint, candidates: dict[str, torch.nn.Module], args,
                        previous: list[dict] = (), on_row=None):
    """(rows, markdown table, note, chosen candidate name). args: guidance (autoguidance scales),
    cfg_guidance, n_per_class, steps, sampler, spacing, seed. A row of `previous` (an earlier run's JSON)
    with the same strong model, method, weak model, scale and settings is reused, not sampled again:
    a long measurement can be extended by one more candidate, or split over processes.
    on_row(rows) is called after each new row (e.g. to save them as they come)."""
    judge = MEASURES[strong.config.world]()
    m = judge.measure
    labels = list(strong.config.labels)
    runs = [("cfg", None, g) for g in args.cfg_guidance]
    runs += [(name, weak, g) for name, weak in candidates.items() for g in args.guidance]
    setting = {"strong": str(strong.path), "n_per_class": args.n_per_class, "steps": args.steps,
               "sampler": args.sampler, "spacing": args.spacing, "seed": args.seed}
    rows = []
    for name, weak, g in runs:
        key = {**setting, "method": "cfg" if weak is None else "autoguidance", "weak": name if weak is not None else "",
               "guidance": g}
        old = [r for r in previous if all(r.get(k) == v for k, v in key.items())]
        if old:
            rows.append({k: v for k, v in old[0].items() if k not in ("cfg_at_equal", "delta")})
            continue
        start = time.perf_counter()
        method = "cfg" if weak is None else make_guider("autoguidance", weak_model=weak)
        x, y = generate(strong, method, g, args.n_per_class, args.steps, args.sampler, args.seed, args.spacing)
        rows.append({**key, **judge(x, y, labels), "seconds": time.perf_counter() - start})
        if on_row is not None:
            on_row(rows)
    cfg_rows = [r for r in rows if r["method"] == "cfg"]
    scores = {}
    for r in rows:
        if r["method"] == "autoguidance" and cfg_rows:
            r["cfg_at_equal"] = at_equal_fidelity(r, cfg_rows, m)
            r["delta"] = r[m.spread] - r["cfg_at_equal"]
            scores[r["weak"]] = min(scores.get(r["weak"], np.inf), r["delta"])
    chosen = min(scores, key=scores.get) if scores else None
    return rows, markdown(rows, m, scores, chosen), note(strong, m, args, chosen, scores), chosen


def _fmt(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4g}"


def markdown(rows: list[dict], m: Measure, scores: dict, chosen: str | None) -> str:
    extra = "diversity" if any("diversity" in r for r in rows) else None
    head = (f"| method | weak model | s | {m.fidelity} | {m.spread} | cfg {m.spread} at equal {m.fidelity} | delta |"
            + (f" {extra} |" if extra else "") + " time (s) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        mark = " (chosen)" if r["weak"] and r["weak"] == chosen else ""
        lines.append(f"| {r['method']} | {r['weak']}{mark} | {r['guidance']:g} | {_fmt(r[m.fidelity])} | "
                     f"{_fmt(r[m.spread])} | {_fmt(r.get('cfg_at_equal'))} | {_fmt(r.get('delta'))} |"
                     + (f" {_fmt(r.get(extra))} |" if extra else "") + f" {r['seconds']:.0f} |")
    if scores:
        lines += ["", "| weak model | score: best delta |", "|---|---|"]
        lines += [f"| {k}{' (chosen)' if k == chosen else ''} | {v:.4g} |" for k, v in scores.items()]
    return "\n".join(lines)


def note(strong: Checkpoint, m: Measure, args, chosen, scores) -> str:
    better = "higher" if m.higher_is_better else "lower"
    if chosen is None:
        verdict = "No candidate (no CFG rows to compare with)."
    elif scores[chosen] < 0:
        verdict = f"Chosen: {chosen} (best delta {scores[chosen]:.4g}: it beats CFG at equal fidelity)."
    else:
        verdict = (f"Chosen: {chosen} (best delta {scores[chosen]:.4g}). No candidate beats CFG at equal "
                   f"fidelity in this measurement. With few samples per row the measures are noisy (compare "
                   f"neighbouring CFG scales), so deltas smaller than that noise decide nothing either way.")
    return (f"Strong model: {strong.path}. {args.n_per_class} samples per class, {args.steps} {args.sampler} "
            f"steps spaced {args.spacing}, seed {args.seed}, the same noise for every row (a small, CPU-sized measurement). "
            f"{m.fidelity}: {better} is better; {m.spread}: lower is better. 'cfg {m.spread} at equal "
            f"{m.fidelity}': the best {m.spread} of the CFG rows at least as good in {m.fidelity} (if none "
            f"is, the most faithful CFG row's); delta = row - that (negative: autoguidance wins). {verdict}")

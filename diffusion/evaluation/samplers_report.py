"""Quality per network call: each sampler at 5, 10, 20, 50, 100 steps beside the converged
deterministic sampler (DDIM with 500 steps), same model, seeds and judge (`--samplers`).

  mnist   FLD (LeNet features, against the 10k test digits) and accuracy on the requested digit,
          100 digits per class;
  points  distance to the curve and coverage, the mean over the three patterns.

One network call per step: cond and uncond rows go through the network as one batch. The ratio
column divides by the converged sampler's figure at the same guidance (lower is better for FLD,
distance and coverage).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..core.metrics import curve_fit, frechet_distance
from ..drawing import plots
from ..models.checkpoint import CHECKPOINTS, load_checkpoint
from ..worlds.mnist import MNIST, classify
from ..worlds.mnist_data import load_mnist
from ..worlds.points import curve_points
from .mnist_report import generate
from .sample_cache import Stopwatch

CALLS = (5, 10, 20, 50, 100)
CONVERGED = ("ddim", 500)


def reference(sampler):
    """The sampler the converged run uses: the same, unless its spacing clips lambda, whose first
    step jumps from pure noise to SNR 1 (`schedules.space_timesteps`): that is no converged ODE, so
    the reference then runs in the world's own deterministic spacing (evenly in lambda over the
    whole range where that clips too). A table of clipped runs so shares its reference, and the
    cached samples of it (`--cache`), with the table of the world's defaults."""
    if sampler.spacing_for(CONVERGED[0]) != "logsnr-clipped":
        return sampler
    own = sampler.world.spacing_for(CONVERGED[0])
    return dataclasses.replace(sampler, spacing="logsnr" if own == "logsnr-clipped" else own)


class DigitJudge:
    """FLD and accuracy of n_per_class digits per class."""
    names = ("fld", "accuracy")
    frontier = ("fld", "accuracy")  # (x, y) of the guidance methods' frontier plot

    def __init__(self, args):
        self.args = args
        self.lenet = load_checkpoint(args.lenet or CHECKPOINTS / "lenet", "lenet").model
        _, self.test_feats = classify(self.lenet, MNIST.to_data(load_mnist("test")[0]))

    def __call__(self, sampler, guidance: float, steps: int, method: str, guide: dict | None = None) -> dict:
        """`method` is the sampler; `guide` the guidance method and its parameters (sample's kwargs)."""
        a = self.args
        digits, labels = generate(sampler, guidance, steps, method, a.eta, a.n_per_class, a.seed, guide, a.cache)
        pred, feats = classify(self.lenet, digits)
        return {"fld": frechet_distance(feats, self.test_feats), "accuracy": float(np.mean(pred == labels))}

    def describe(self) -> str:
        return f"{self.args.n_per_class} digits per class; FLD against the 10k test digits (LeNet features)"


class CurveJudge:
    """Distance to the curve and coverage of it, averaged over the patterns."""
    names = ("distance", "coverage")
    frontier = ("coverage", "distance")

    def __init__(self, args):
        self.args = args

    def __call__(self, sampler, guidance: float, steps: int, method: str, guide: dict | None = None) -> dict:
        a, fits = self.args, []
        for label in sampler.checkpoint.config.labels:
            traj = sampler.sample(label, guidance, steps, method, a.eta, a.n, a.seed, keep_trajectory=False,
                                  **(guide or {}))
            fits.append(curve_fit(sampler.to_data(traj.samples), curve_points(label)))
        return {k: float(np.mean([f[k] for f in fits])) for k in self.names}

    def describe(self) -> str:
        return f"{self.args.n} points per pattern, the mean over the patterns"


def samplers_report(sampler, judge, args) -> tuple[list[dict], str, str]:
    """Rows (sampler, steps, guidance, measures, seconds), the Markdown table and its note."""
    runs = [(m, s) for m in args.samplers for s in args.calls] + [CONVERGED]
    rows, converged = [], reference(sampler)
    for g in args.guidance or [1.0, 2.0]:
        for method, steps in runs:
            watch = Stopwatch(getattr(args, "cache", None))
            on = converged if (method, steps) == CONVERGED else sampler
            row = {"guidance": g, "sampler": method, "steps": steps, **judge(on, g, steps, method)}
            row["seconds"] = watch.seconds()
            rows.append(row)
    a, b = judge.names
    ref = {r["guidance"]: r for r in rows if (r["sampler"], r["steps"]) == CONVERGED}
    lines = [f"| guidance | sampler | network calls | {a} | {a} / converged | {b} | {b} / converged |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        c = ref[r["guidance"]]
        r[f"{a}_ratio"], r[f"{b}_ratio"] = r[a] / c[a], (r[b] / c[b] if c[b] else float("nan"))
        lines.append(f"| {r['guidance']:g} | {r['sampler']} | {r['steps']} | {r[a]:.4g} | {r[f'{a}_ratio']:.2f} | "
                     f"{r[b]:.4g} | {r[f'{b}_ratio']:.2f} |")
    note = (f"{judge.describe()}; seed {args.seed}. Converged: {CONVERGED[0]} with {CONVERGED[1]} steps, "
            f"{converged.spacing_for(CONVERGED[0])} spacing (the deterministic ODE's answer). "
            "One network call per step (cond and uncond in one batch).")
    return rows, "\n".join(lines), note


def samplers_plot(rows: list[dict], names: tuple[str, str]) -> np.ndarray:
    """One panel per guidance and measure: measure against network calls, one line per sampler,
    the converged sampler as a dashed line."""
    return plots.calls_png(rows, names, CONVERGED)

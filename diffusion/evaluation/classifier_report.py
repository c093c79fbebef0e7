"""A noise-aware classifier's accuracy per noise level, on held-out data (`World.held_out`:
MNIST test digits, fresh pattern points):

    acc(t) = mean_i [argmax_c classifier(x_t^i, t)_c == y_i],  x_t^i = sqrt(ab_t) x0^i + sqrt(1 - ab_t) eps^i

At t = 0 it is an ordinary classifier; as t -> T - 1 the data is drowned and acc(t) -> chance
(1 / C). `python -m diffusion.evaluate <world>-classifier [--update-card]`.
"""
from __future__ import annotations

import torch

from ..core.gaussian import GaussianDiffusion
from ..models.checkpoint import Checkpoint
from ..models.exact import ExactClassifier

NOISE_LEVELS = (0, 100, 250, 500, 750, 900, 999)
BATCH = 1000


@torch.inference_mode()
def noise_accuracy(classifier, diffusion: GaussianDiffusion, x0: torch.Tensor, y: torch.Tensor,
                   timesteps=NOISE_LEVELS, seed: int = 0) -> dict[int, float]:
    """{t: accuracy} of classifier(x_t, t) on x0 (N, ...) with labels y (N,), each t with fresh
    seeded noise (the same x0 at every t). t beyond the schedule is clipped to T - 1."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for t in timesteps:
        t = min(int(t), diffusion.num_steps - 1)
        right = 0
        for i in range(0, len(y), BATCH):
            xb = x0[i:i + BATCH]
            tb = torch.full((len(xb),), t, dtype=torch.long)
            x_t = diffusion.q_sample(xb, tb, torch.randn(xb.shape, generator=gen))
            right += int((classifier(x_t, diffusion.model_timesteps[tb]).argmax(1) == y[i:i + BATCH]).sum())
        out[t] = right / len(y)
    return out


def classifier_report(world, checkpoint: Checkpoint, n_per_class: int, seed: int = 0, exact: int | None = None):
    """(rows, markdown table, note) of the classifier's accuracy per noise level on n_per_class
    held-out examples per class; with `exact`, also the exact (Bayes) classifier of `exact`
    training examples per class (`models.exact.ExactClassifier`), same x_t: for points, whose
    curves cross and overlap, the ceiling that no classifier can pass."""
    x0, y = world.held_out(n_per_class, seed)
    diffusion = checkpoint.diffusion
    acc = noise_accuracy(checkpoint.model.eval(), diffusion, x0, y, seed=seed)
    ab = diffusion.alphas_cumprod_f64
    rows = [{"t": t, "alpha_bar": float(ab[t]), "accuracy": a} for t, a in acc.items()]
    lines = ["| t | " + " | ".join(str(r["t"]) for r in rows) + " |", "|---|" + "---|" * len(rows),
             "| sqrt(alpha_bar_t) (signal) | " + " | ".join(f"{r['alpha_bar'] ** 0.5:.3f}" for r in rows) + " |",
             "| accuracy | " + " | ".join(f"{r['accuracy']:.1%}" for r in rows) + " |"]
    if exact is not None:
        bayes = ExactClassifier(world.exact_model(exact, ab, seed=seed + 1))
        best = noise_accuracy(bayes, diffusion, x0.double(), y, seed=seed)  # same seed: the same x_t
        for r in rows:
            r["exact_accuracy"] = best[r["t"]]
        lines.append(f"| exact classifier of {exact} per class | " + " | ".join(
            f"{r['exact_accuracy']:.1%}" for r in rows) + " |")
    table = "\n".join(lines)
    c = checkpoint.config
    note = (f"Held out: {n_per_class} {world.noun} per class ({len(y):,} in all, never seen in training), "
            f"x_t = q_sample(x0, t, eps) with the {c.schedule} schedule, T = {c.timesteps} (the denoiser's), "
            f"seed {seed}. Chance is "
            f"{1 / len(c.labels):.1%}: at the last steps the classifier can only guess, so classifier "
            "guidance acts where the classifier knows something: in the later (less noisy) part of sampling."
            + ("" if exact is None else " The exact classifier is Bayes over the forward process's Gaussian "
               "mixture of its training examples (the same x_t)."))
    return rows, table, note

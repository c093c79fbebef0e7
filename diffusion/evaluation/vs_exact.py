"""The network beside the exact denoiser of its training data (`--vs-exact N`): the same schedule,
sampler, seeds and judge, so the ratio of their measures is the network's own error, not
guidance's. A ratio near 1 means what the app shows is guidance, not the network.

  mnist   per guidance: FLD (LeNet features, against the 10k test digits) of network and exact,
          their ratio, and both accuracies on the requested digit; at guidance 0 (unconditional)
          the share of samples our LeNet classifies with confidence >= 0.9, beside the real test
          digits' share.
  points  per guidance and label: distance to the curve and coverage of it for both, the coverage
          ratio; for "random", the share of samples on no pattern.
"""
from __future__ import annotations

import numpy as np
import torch

from ..core.metrics import curve_fit, frechet_distance, pattern_shares
from ..models.checkpoint import CHECKPOINTS, load_checkpoint
from ..worlds.labels import RANDOM
from ..worlds.mnist import MNIST, classify
from ..worlds.mnist_data import load_mnist
from ..worlds.points import curve_points
from .mnist_report import generate

CONFIDENT = 0.9


def confident_share(lenet, feats: np.ndarray) -> float:
    """The share of digits whose LeNet class probability is at least CONFIDENT."""
    with torch.inference_mode():
        p = lenet.head(torch.from_numpy(feats)).softmax(1).max(1).values
    return float((p >= CONFIDENT).float().mean())


def mnist_vs_exact(net, exact, args) -> tuple[list[dict], str, str]:
    lenet = load_checkpoint(args.lenet or CHECKPOINTS / "lenet", "lenet").model
    test_x, _ = load_mnist("test")
    _, test_feats = classify(lenet, MNIST.to_data(test_x))
    real_share = confident_share(lenet, test_feats)
    rows = []
    for g in args.guidance or [0.0, 1.0, 2.0, 3.0]:
        row = {"guidance": g}
        for name, sampler in (("net", net), ("exact", exact)):
            digits, labels = generate(sampler, g, args.steps, args.sampler, args.eta, args.n_per_class, args.seed,
                                      cache=args.cache)
            pred, feats = classify(lenet, digits)
            row[f"{name}_fld"] = frechet_distance(feats, test_feats)
            row[f"{name}_accuracy"] = float(np.mean(pred == labels))
            row[f"{name}_confident"] = confident_share(lenet, feats)
        row["ratio"] = row["net_fld"] / row["exact_fld"]
        rows.append(row)
    lines = ["| guidance | network FLD | exact FLD | ratio | network accuracy | exact accuracy | confident share (network / exact / real test) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = ("-", "-") if r["guidance"] == 0 else (f"{r['net_accuracy']:.3f}", f"{r['exact_accuracy']:.3f}")
        conf = (f"{r['net_confident']:.1%} / {r['exact_confident']:.1%} / {real_share:.1%}"
                if r["guidance"] == 0 else "")
        lines.append(f"| {r['guidance']:g} | {r['net_fld']:.2f} | {r['exact_fld']:.2f} | {r['ratio']:.2f} | "
                     f"{acc[0]} | {acc[1]} | {conf} |")
    note = (f"{args.n_per_class} samples per digit, {args.steps} {args.sampler} steps, seed {args.seed}; exact: the "
            f"exact denoiser of {args.vs_exact} training digits per class. FLD against the 10k test digits "
            f"(LeNet features); accuracy: LeNet's class = the requested digit (none is requested at guidance 0); "
            f"confident: LeNet probability >= {CONFIDENT}.")
    return rows, "\n".join(lines), note


def points_vs_exact(net, exact, args) -> tuple[list[dict], str, str]:
    names = net.checkpoint.config.labels
    curves = {k: curve_points(k) for k in names}
    rows = []
    for g in args.guidance or [1.0, 2.0, 3.0]:
        for label in [*names, RANDOM]:
            row = {"guidance": g, "label": label}
            for name, sampler in (("net", net), ("exact", exact)):
                x = sampler.to_data(sampler.sample(label, g, args.steps, args.sampler, args.eta, args.n, args.seed,
                                                   keep_trajectory=False).samples)
                fit = pattern_shares(x, curves) if label == RANDOM else curve_fit(x, curves[label])
                row.update({f"{name}_{k}": v for k, v in fit.items()})
            if label != RANDOM:
                row["coverage_ratio"] = row["net_coverage"] / row["exact_coverage"]
            rows.append(row)
    lines = ["| guidance | label | distance (network / exact) | coverage (network / exact) | coverage ratio | on no pattern (network / exact) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if r["label"] == RANDOM:
            lines.append(f"| {r['guidance']:g} | random | | | | {r['net_none']:.1%} / {r['exact_none']:.1%} |")
        else:
            lines.append(f"| {r['guidance']:g} | {r['label']} | {r['net_distance']:.4f} / {r['exact_distance']:.4f} | "
                         f"{r['net_coverage']:.4f} / {r['exact_coverage']:.4f} | {r['coverage_ratio']:.2f} | |")
    note = (f"{args.n} samples per label, {args.steps} {args.sampler} steps, seed {args.seed}; exact: the exact "
            f"denoiser of {args.vs_exact} pattern points per class (they lie on the curves, so compare distances "
            "as absolute figures). distance: mean sample -> curve; coverage: mean curve point -> nearest sample; "
            "on no pattern: farther than 0.05 from every pattern.")
    return rows, "\n".join(lines), note

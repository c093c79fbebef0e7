"""MNIST evaluation as in the write-up: LeNet accuracy, per-digit precision/recall/F1, the
Frechet LeNet Distance (FLD) against the real test set, diversity, and the real-data floor."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..core.metrics import confusion, frechet_distance, mean_pairwise_distance, precision_recall_f1
from ..models.checkpoint import CHECKPOINTS, load_checkpoint
from ..worlds.mnist import MNIST, classify, compute_real_stats
from ..worlds.mnist_data import load_mnist, per_class
from .sample_cache import SampleCache, Stopwatch, seconds_note, seconds_text

CHUNK = 250  # images per sampling call: bounds memory, keeps both cores busy


def diversity(digits01: np.ndarray, labels: np.ndarray) -> float:
    """Mean over digits of the mean pairwise pixel distance between samples of that digit."""
    return float(np.mean([mean_pairwise_distance(digits01[labels == d].reshape(-1, 784))
                          for d in np.unique(labels)]))


def generate(sampler, guidance, steps, method, eta, n_per_class, seed, guide: dict | None = None,
             cache: SampleCache | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n_per_class digits of each class with the sampler `method` (and the guidance method and its
    parameters in `guide`, keyword arguments of `GuidedSampler.sample`); with a cache, each chunk
    of CHUNK digits is read from it or saved to it (`sample_cache`)."""
    labels = np.repeat(np.arange(10), n_per_class)
    out = []
    for k, i in enumerate(range(0, len(labels), CHUNK)):
        chunk = [str(v) for v in labels[i:i + CHUNK]]
        run = dict(labels=chunk, guidance=float(guidance), steps=int(steps), sampler=method, eta=float(eta),
                   seed=seed + k, guide=guide)

        def make():  # called within this iteration, so the loop's names are the chunk's
            return sampler.sample(chunk, guidance, steps, method, eta, len(chunk), seed + k, keep_trajectory=False,
                                  **(guide or {})).samples

        out.append(sampler.to_data(make() if cache is None else cache.fetch(sampler, run, make)))
    return np.concatenate(out), labels


def real_floor(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n_per_class real training digits per class: the floor that FLD and diversity reach at
    this n (FLD is biased upward at small n), drawn independently of the test set."""
    x, y = load_mnist("train")
    idx = per_class(y, n_per_class, seed)
    return MNIST.to_data(x[idx]), y[idx].numpy()


def report(sampler, args):
    """(rows, markdown table, note) for the CLI's arguments."""
    lenet = load_checkpoint(args.lenet or CHECKPOINTS / "lenet", "lenet").model
    test_x, test_y = load_mnist("test")
    _, test_feats = classify(lenet, MNIST.to_data(test_x))
    n = args.n_per_class
    real, real_y = real_floor(n, args.seed)
    real_pred, real_feats = classify(lenet, real)
    floor = {"guidance": "real", "accuracy": float(np.mean(real_pred == real_y)),
             "fld": frechet_distance(real_feats, test_feats), "diversity": diversity(real, real_y)}
    rows, hists = [], {}
    method = args.sampler
    for g in args.guidance or [0, 1, 2, 3, 5]:
        watch = Stopwatch(args.cache)
        digits, labels = generate(sampler, g, args.steps, method, args.eta, n, args.seed, cache=args.cache)
        seconds = watch.seconds()
        pred, feats = classify(lenet, digits)
        cm = confusion(labels, pred)
        prf = precision_recall_f1(cm)
        hists[g] = cm
        rows.append({"guidance": g, "steps": args.steps, "sampler": method, "n_per_class": n,
                     "accuracy": float(np.mean(pred == labels)),
                     **{k: float(v.mean()) for k, v in prf.items()},
                     "fld": frechet_distance(feats, test_feats), "diversity": diversity(digits, labels),
                     "seconds": seconds, "per_digit_accuracy": (np.diag(cm) / cm.sum(1)).tolist()})
    if args.histogram:
        save_histograms(hists, args.histogram)
    rows.append(floor)
    return rows, markdown(rows, floor), note(n, args, floor) + seconds_note(rows)


def evaluate_lenet(args):
    """The classifier's own test accuracy: (markdown table, note, checkpoint folder)."""
    ck = load_checkpoint(args.lenet or CHECKPOINTS / "lenet", "lenet")
    x, y = load_mnist("test")
    pred, _ = classify(ck.model, MNIST.to_data(x))
    y = y.numpy()
    cm = confusion(y, pred)
    per = np.diag(cm) / cm.sum(1)
    table = ("| | all | " + " | ".join(map(str, range(10))) + " |\n|---|---|" + "---|" * 10 + "\n"
             f"| test accuracy | {np.mean(pred == y):.2%} | " + " | ".join(f"{a:.1%}" for a in per) + " |")
    return table, f"On the {len(y):,} real MNIST test digits (never used in training).", ck.path


def save_shipped_data(lenet_folder) -> list[Path]:
    """Write the app's MNIST-derived files (`worlds/mnist_assets.py`): the feature statistics of the
    judge in lenet_folder, and the exact reference's pool. Returns their paths."""
    from ..worlds import mnist_assets
    stats_path = Path(lenet_folder) / mnist_assets.STATS_FILE.name
    mnist_assets.save_stats(compute_real_stats(load_checkpoint(lenet_folder, "lenet").model), stats_path)
    train_x, train_y = load_mnist("train")
    idx = per_class(train_y, mnist_assets.POOL_PER_CLASS, mnist_assets.POOL_SEED)
    digits = ((train_x[idx, 0] + 1) / 2 * 255).round().to(torch.uint8)  # 8 bits a pixel
    mnist_assets.save_pool(digits, train_y[idx])
    return [stats_path, mnist_assets.POOL_FILE]


def markdown(rows, floor) -> str:
    lines = ["| guidance | sampler | accuracy | precision | recall | F1 | FLD | FLD / floor | diversity | time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["guidance"] == "real":
            lines.append(f"| real test-set floor | | {r['accuracy']:.1%} | | | | {r['fld']:.2f} | 1.00 | "
                         f"{r['diversity']:.2f} | |")
        else:
            lines.append(f"| {r['guidance']:g} | {r['steps']} {r['sampler']} | {r['accuracy']:.1%} | "
                         f"{r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['fld']:.2f} | "
                         f"{r['fld'] / floor['fld']:.2f} | {r['diversity']:.2f} | {seconds_text(r['seconds'])} |")
    return "\n".join(lines)


def note(n, args, floor) -> str:
    exact = ("" if getattr(args, "exact", None) is None else
             f"Denoiser: the exact one of {args.exact} random training digits per class (models/exact.py), "
             "not a network. ")
    return (exact + f"{n} samples per digit ({10 * n} in all), seed {args.seed}. accuracy: share that our LeNet "
            "(checkpoints/lenet) classifies as the requested digit; precision/recall/F1: means over digits; "
            "FLD: Frechet distance between LeNet features of the samples and of the 10k real test digits; "
            f"floor: the same for {10 * n} real training digits (FLD is biased upward at small n); "
            "diversity: mean pairwise pixel distance (images in [0, 1]) within a digit, averaged over digits.")


def save_histograms(hists: dict, path: str) -> None:
    """One row per guidance scale, one small bar chart per requested digit (predicted labels)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(hists), 10, figsize=(15, 1.6 * len(hists)), squeeze=False, sharey=True)
    for r, (g, cm) in enumerate(hists.items()):
        for d in range(10):
            ax = axes[r][d]
            ax.bar(range(10), cm[d], color=["#2a9d8f" if k == d else "#e76f51" for k in range(10)])
            ax.set_xticks(range(10))
            ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(f"asked {d}", fontsize=8)
        axes[r][0].set_ylabel(f"s = {g:g}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

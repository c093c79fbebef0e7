"""The MNIST world: digits 0-9. Public data is (n, 28, 28) float32 in [0, 1]; the network sees
(n, 1, 28, 28) in [-1, 1]; the app stores frames as uint8. Quality is judged by our LeNet
(checkpoints/lenet): accuracy on the requested digit, and FLD on its features (evaluation)."""
from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
import torch

from ..core.checks import invalid
from ..core.metrics import frechet_from_stats, gaussian_stats, mean_pairwise_distance
from ..drawing import pictures
from ..models.checkpoint import CHECKPOINTS, load_checkpoint
from ..models.exact import ExactDenoiser
from .base import Sizes, World
from . import mnist_assets
from .labels import RANDOM
from .mnist_data import EpochBatches, Split, load_mnist, mnist_splits, per_class, to_model_range

DIGITS = tuple(str(d) for d in range(10))
LIVE_SIZES = {"tiny": dict(channels=[8, 16, 32], emb_dim=32),  # ~64k parameters
              "small": dict(channels=[16, 32, 64], emb_dim=64)}  # ~250k
_judge_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load_judge():
    return load_checkpoint(CHECKPOINTS / "lenet", "lenet").model


def judge():
    """Our LeNet (checkpoints/lenet), loaded once per process."""
    with _judge_lock:
        return _load_judge()


@lru_cache(maxsize=1)
def compute_real_stats(lenet=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """LeNet (default: our judge) feature statistics of the 10k test digits, per class and over
    all (see `mnist_assets`); needs the MNIST data."""
    x, y = load_mnist("test")
    f, y = classify(lenet or judge(), MNIST.to_data(x))[1], y.numpy()
    return {**{str(d): gaussian_stats(f[y == d]) for d in range(10)}, mnist_assets.ALL: gaussian_stats(f)}


def real_stats(label: str) -> tuple[np.ndarray, np.ndarray]:
    """(mu, cov) of the real test digits of `label` ("random": all of them): the shipped file, or
    computed from the data where it is missing."""
    stats = mnist_assets.load_stats() or compute_real_stats()
    return stats[mnist_assets.ALL if label == RANDOM else label]


@torch.inference_mode()
def classify(lenet, digits01: np.ndarray, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Digits (n, 28, 28) in [0, 1] -> (predicted labels (n,), LeNet features (n, d))."""
    preds, feats = [], []
    for i in range(0, len(digits01), batch):
        f = lenet.features(MNIST.from_data(digits01[i:i + batch]))
        preds.append(lenet.head(f).argmax(1).numpy())
        feats.append(f.numpy())
    return np.concatenate(preds), np.concatenate(feats)


class DigitTraining:
    """Epochs of seeded permutations over the training digits of the chosen classes, relabelled
    0..k-1 in label order, and a fixed held-out batch."""

    def __init__(self, labels: list[str], seed: int, validation: int | None):
        train, val = mnist_splits(seed)
        self.train, self.val = self._pick(train, labels), self._pick(val, labels, validation)
        self._batches: EpochBatches | None = None
        self.seed = seed

    @staticmethod
    def _pick(split: Split, labels: list[str], limit: int | None = None) -> Split:
        if tuple(labels) == DIGITS:  # all ten: nothing to relabel, and a view instead of a copy
            return Split(split.x[:limit], split.y[:limit])
        lookup = torch.full((10,), -1, dtype=torch.long)
        lookup[[int(d) for d in labels]] = torch.arange(len(labels))
        keep = (lookup[split.y] >= 0).nonzero().squeeze(1)[:limit]
        return Split(split.x[keep], lookup[split.y[keep]])

    def batch(self, step: int, gen: torch.Generator, batch_size: int):
        if self._batches is None or self._batches.batch_size != batch_size:
            self._batches = EpochBatches(self.train, batch_size, self.seed)
        return self._batches(step)

    def validation_batch(self):
        return self.val.x, self.val.y

    def reference(self, gen: torch.Generator, n: int):
        idx = torch.randint(0, len(self.train.x), (n,), generator=gen)
        return self.train.x[idx], self.train.y[idx]


class MnistWorld(World):
    def training_data(self, labels, seed, validation=None):
        bad = [v for v in labels if v not in DIGITS]
        if not labels or bad:
            raise invalid("labels", list(labels), f"one or more of {', '.join(DIGITS)}")
        return DigitTraining(list(labels), seed, validation)

    def live_model(self, size) -> dict:
        if size not in LIVE_SIZES:
            raise invalid("size", size, ", ".join(LIVE_SIZES))
        return dict(LIVE_SIZES[size], dropout=0.0)

    def held_out(self, n_per_class, seed=0):
        """Real MNIST test digits (never used in training), n_per_class of each, drawn with seed."""
        x, y = load_mnist("test")
        idx = per_class(y, n_per_class, seed)
        return x[idx], y[idx]

    def exact_model(self, n: int, alphas_cumprod, seed: int = 1) -> ExactDenoiser:
        """The exact denoiser of n random training digits of each class (drawn with `seed`); from
        the shipped pool when it holds them (the app's reference needs no MNIST download)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise invalid("n", n, "a positive integer (digits per class)")
        shipped = mnist_assets.pool_subset(n, seed)
        if shipped is not None:
            return ExactDenoiser(to_model_range(shipped[0]), shipped[1], alphas_cumprod, null_label=10)
        x, y = load_mnist("train")
        available = int(torch.bincount(y).min())
        if not n <= available:
            raise invalid("n", n, f"an integer in 1..{available} (digits per class)")
        idx = per_class(y, n, seed)
        return ExactDenoiser(x[idx], y[idx], alphas_cumprod, null_label=10)

    def to_data(self, x: torch.Tensor) -> np.ndarray:
        return ((x[:, 0].clamp(-1, 1) + 1) / 2).numpy().astype(np.float32)

    def from_data(self, data) -> torch.Tensor:
        return to_model_range(torch.as_tensor(np.asarray(data)))

    def display(self, data: np.ndarray) -> np.ndarray:
        return (np.asarray(data) * 255).round().astype(np.uint8)

    def panel(self, shown: np.ndarray, small: bool = False) -> np.ndarray:
        return pictures.digits_panel(shown, 3 if len(shown) <= 16 and not small else 2)

    def final_image(self, samples: np.ndarray, title: str = "") -> np.ndarray:
        return pictures.gray_to_rgb(pictures.digit_grid(samples), 4)

    def comparison_panel(self, samples: np.ndarray, guidance: float, measured: dict) -> np.ndarray:
        img = pictures.digits_panel(self.display(samples), 2)
        return pictures.caption(img, f"s = {guidance:g}  acc {measured['accuracy']:.0%}")

    def measure(self, label: str, samples: np.ndarray) -> dict:
        """accuracy: share that our LeNet classifies as the requested digit (for "random": the
        share of the 10 digits that appear at all), higher is better; diversity: mean pairwise
        pixel distance; fld: Frechet distance of LeNet features to the real test digits of the
        requested class (all of them for "random"), lower is better (biased upward at small n)."""
        pred, feats = classify(judge(), samples)
        acc = len(np.unique(pred)) / 10 if label == RANDOM else float(np.mean(pred == int(label)))
        return {"accuracy": acc, "diversity": mean_pairwise_distance(samples.reshape(len(samples), -1)),
                "fld": frechet_from_stats(*gaussian_stats(feats), *real_stats(label))}

    def metric_headers(self, label: str) -> list[str]:
        return ["LeNet accuracy" if label != RANDOM else "digits present", "diversity"]


MNIST = MnistWorld(
    name="mnist", title="MNIST digits", noun="digits", labels=DIGITS, sample_shape=(1, 28, 28),
    architecture="UNet", sizes=Sizes(max_n=256, default_n=16, compare_n=24, step_cost=1.0,
                                        method_cost=(), exact_cost=1.0, admit_n=160), default_label="3",
    # Chosen by measurement on the shipped U-Net (100 per class, FLD / accuracy; the card's spacing section):
    # the SDE solver's 20 steps evenly in t reach 6.7 / 96.9% at guidance 1 and 9.5 / 100% at guidance 2
    # (DDPM-100: 2.5 and 14.7; the converged ODE, DDIM-500: 7.5 at guidance 1). Evenly in log-SNR the SDE
    # solver is better at guidance 1 (4.6) but not at 2 (23.4; 10 steps: 63.7), so stochastic runs keep even t.
    # Deterministic runs go evenly in log-SNR: evenly in t, the multistep solvers carry the x0 of t = 999
    # (alpha_bar 2.4e-9, clipped noise) into their second step (FLD 34-62 at 10 steps, guidance 1; in
    # log-SNR 3.9-4.2). Clipping lambda at SNR 1 (the points world's rule for stochastic runs) ruins MNIST:
    # one step from pure noise to SNR 1 keeps that x0 (FLD 785). The comparison: 10 SDE steps (guidance 2:
    # 10.6 / 100%), over 2x faster than 25 DDPM steps. admit_n: 160 digits x 20 guided steps (~14 s here) admits
    # the comparison at 25 DDPM steps (3,000), the default before this one.
    sampling=dict(steps=20, sampler="dpm++2m-sde", spacing="logsnr", stochastic_spacing="uniform"),
    compare=dict(steps=10, sampler="dpm++2m-sde"), preview=dict(n=8, steps=20),
    train_preset=dict(steps=32_000, batch_size=128, lr=2e-3, warmup=300, ema_decay=0.9995,
                      schedule="cosine", timesteps=1000, labels=list(DIGITS), p_uncond=0.5,
                      min_snr_gamma=5.0, model=dict(channels=[32, 64, 160], emb_dim=128, dropout=0.0,
                                                   extra_blocks=[0, 0, 0]),
                      eval_every=250, save_every=250),
    live=dict(size="tiny", max_seconds=180, steps=1000, batch_size=64, schedule="cosine"),
    examples=(("3", 2.0, 20, "dpm++2m-sde", 0, 16), ("7", 0.0, 100, "ddpm", 0, 16),
              ("random", 1.0, 10, "dpm++2m", 1, 36), ("5", 5.0, 20, "unipc", 2, 16)),
    metric_names=("accuracy", "diversity"), frontier=("fld", "accuracy"), exact_pool=300,
    frontier_note="Each curve is one guidance method through its guidance scales (numbers at the points): "
                  "higher is more digits that LeNet reads as the asked one, further left is closer to real "
                  "digits of that class (FLD on LeNet features), so the best trade-off lies toward the upper left.",
    measure_notes={"accuracy": ("share of samples that LeNet reads as the asked digit (for random: share of the "
                                "10 digits present)", "higher"),
                   "diversity": ("mean pairwise pixel distance between samples: how varied they are", "higher"),
                   "fld": ("Frechet distance of LeNet features to real digits of the class: how real they "
                           "look (biased upward at small n)", "lower")},
    weak_preset=dict(steps=1_500, warmup=100, ema_decay=0.999, model=dict(channels=[8, 16, 32], emb_dim=32, dropout=0.0),
                     eval_every=250, save_every=500),
    classifier_architecture="DigitClassifier",
    classifier_preset=dict(steps=6_000, batch_size=128, lr=2e-3, warmup=200, ema_decay=0.999, weight_decay=1e-4,
                           model=dict(channels=[32, 64, 128], emb_dim=128, hidden=128), eval_every=250,
                           save_every=500))

"""Diagnostics' shared judge (not shipped): guidance-0 digits of a sampler, scored by our LeNet against the 10k
test digits (confident share and FLD), as the vs-exact table scores them."""
import time
import torch
from diffusion.core.metrics import frechet_distance
from diffusion.evaluation.mnist_report import generate
from diffusion.evaluation.vs_exact import confident_share
from diffusion.models.checkpoint import load_checkpoint, CHECKPOINTS
from diffusion.worlds.mnist import MNIST, classify
from diffusion.worlds.mnist_data import load_mnist

torch.set_num_threads(2)
LENET = load_checkpoint(CHECKPOINTS / "lenet", "lenet").model
_, TEST_FEATURES = classify(LENET, MNIST.to_data(load_mnist("test")[0]))


def score(name: str, sampler, n_per_class: int, seed: int = 0) -> None:
    """Print the confident share and FLD of n_per_class x 10 guidance-0 digits (100 DDPM steps)."""
    start = time.time()
    digits, _ = generate(sampler, 0.0, 100, "ddpm", 0.0, n_per_class, seed)
    _, f = classify(LENET, digits)
    print(f"{name:28s} conf {confident_share(LENET, f):.1%}  fld {frechet_distance(f, TEST_FEATURES):.2f}  "
          f"({time.time() - start:.0f} s)", flush=True)


def accuracy(name: str, sampler, guidance: float, n_per_class: int, seed: int = 0) -> None:
    """Print the share of n_per_class x 10 digits at `guidance` (100 DDPM steps) that our LeNet reads as the
    requested digit, and their FLD against the test digits."""
    start = time.time()
    digits, labels = generate(sampler, guidance, 100, "ddpm", 0.0, n_per_class, seed)
    pred, f = classify(LENET, digits)
    print(f"{name:28s} g{guidance:g} acc {(pred == labels).mean():.3f}  fld {frechet_distance(f, TEST_FEATURES):.2f}  "
          f"({time.time() - start:.0f} s)", flush=True)

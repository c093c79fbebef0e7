"""Diagnostic (not shipped): which digits does a checkpoint draw at guidance 0, and how confidently, beside the exact
denoiser (2,000 per class) and the real test digits? 100 DDPM steps, uniform spacing, samples from the vs-exact cache.
  PYTHONPATH=. .venv/bin/python resume/diagnostics/classes.py SNAP N_PER_CLASS SEED"""
import sys
import numpy as np
import torch
from diffusion.evaluation.mnist_report import generate
from diffusion.evaluation.sample_cache import SampleCache
from diffusion.guided_sampler import GuidedSampler
from diffusion.worlds.mnist import MNIST, classify
from diffusion.worlds.mnist_data import load_mnist
from judge import LENET

snap, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
net = GuidedSampler.load("mnist", snap); net.spacing = "uniform"
cache = SampleCache("runs/eval-cache")


def table(name, digits):
    with torch.inference_mode():
        p = LENET.head(LENET.features(MNIST.from_data(digits))).softmax(1)
    conf, pred = p.max(1)
    counts = np.bincount(pred.numpy(), minlength=10) / len(pred)
    share = [float((conf[pred == d] >= 0.9).float().mean()) if (pred == d).any() else float("nan") for d in range(10)]
    print(f"{name:6s} drawn  " + " ".join(f"{c:5.1%}" for c in counts))
    print(f"{name:6s} conf   " + " ".join(f"{s:5.1%}" for s in share), flush=True)


print("digit        " + " ".join(f"{d:>5d}" for d in range(10)))
table("real", MNIST.to_data(load_mnist("test")[0]))
for name, s in (("net", net), ("exact", net.exact(2000, seed))):
    table(name, generate(s, 0.0, 100, "ddpm", 0.0, n, seed, cache=cache)[0])
print(f"cache hits {cache.hits}, misses {cache.misses}")

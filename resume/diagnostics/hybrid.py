"""Diagnostic (not shipped): which noise range makes the network's unconditional digits malformed?
Samples guidance 0 with the exact denoiser for t >= T0 and the network below (and the reverse); with
EXPERT=DIR in the environment, also that checkpoint for t >= T0 and the network below (an expert pair).
  PYTHONPATH=. .venv/bin/python resume/diagnostics/hybrid.py SNAP N_PER_CLASS T0 [T0 ...]"""
import os, sys, time
import numpy as np, torch
from diffusion.guided_sampler import GuidedSampler
from diffusion.models.checkpoint import Checkpoint, load_checkpoint, CHECKPOINTS
from diffusion.evaluation.mnist_report import generate
from diffusion.evaluation.vs_exact import confident_share
from diffusion.core.metrics import frechet_distance
from diffusion.worlds.mnist import MNIST, classify
from diffusion.worlds.mnist_data import load_mnist

torch.set_num_threads(2)
snap, n = sys.argv[1], int(sys.argv[2])
net = GuidedSampler.load("mnist", snap); net.spacing = "uniform"
ex = net.exact(2000, 0)

class Hybrid(torch.nn.Module):
    def __init__(self, hi, lo, t0):
        super().__init__(); self.hi, self.lo, self.t0 = hi, lo, t0
    def forward(self, x, t, y):
        return (self.hi if int(t.reshape(-1)[0]) >= self.t0 else self.lo)(x, t, y)

lenet = load_checkpoint(CHECKPOINTS / "lenet", "lenet").model
tx, _ = load_mnist("test"); _, tf = classify(lenet, MNIST.to_data(tx))
def run(name, s):
    t = time.time()
    d, _ = generate(s, 0.0, 100, "ddpm", 0.0, n, 0)
    _, f = classify(lenet, d)
    print(f"{name:28s} conf {confident_share(lenet, f):.1%}  fld {frechet_distance(f, tf):.2f}  ({time.time()-t:.0f} s)", flush=True)
N, E = net.checkpoint.model, ex.checkpoint.model
run("network", net)
run("exact", ex)
expert = os.environ.get("EXPERT")
X = GuidedSampler.load("mnist", expert).checkpoint.model if expert else None
for t0 in map(int, sys.argv[3:]):
    if X is not None:
        run(f"expert t>={t0}, net below", GuidedSampler(Checkpoint(Hybrid(X, N, t0), net.checkpoint.config), spacing=net.spacing))
    run(f"exact t>={t0}, net below", GuidedSampler(Checkpoint(Hybrid(E, N, t0), net.checkpoint.config), spacing=net.spacing))
    run(f"net t>={t0}, exact below", GuidedSampler(Checkpoint(Hybrid(N, E, t0), net.checkpoint.config), spacing=net.spacing))

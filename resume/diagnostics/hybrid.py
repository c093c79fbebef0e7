"""Diagnostic (not shipped): which noise range makes the network's unconditional digits malformed?
Samples guidance 0 with the exact denoiser for t >= T0 and the network below (and the reverse); with
EXPERT=DIR in the environment, also that checkpoint for t >= T0 and the network below (an expert pair).
  PYTHONPATH=. .venv/bin/python resume/diagnostics/hybrid.py SNAP N_PER_CLASS T0 [T0 ...]"""
import os, sys
from diffusion.guided_sampler import GuidedSampler
from diffusion.models.checkpoint import Checkpoint
from hybrid_model import Hybrid
from judge import score

snap, n = sys.argv[1], int(sys.argv[2])
net = GuidedSampler.load("mnist", snap); net.spacing = "uniform"
ex = net.exact(2000, 0)

def run(name, s):
    score(name, s, n)

def pair(hi, lo, t0):
    return GuidedSampler(Checkpoint(Hybrid(hi, lo, t0), net.checkpoint.config), spacing=net.spacing)

N, E = net.checkpoint.model, ex.checkpoint.model
run("network", net)
run("exact", ex)
expert = os.environ.get("EXPERT")
X = GuidedSampler.load("mnist", expert).checkpoint.model if expert else None
for t0 in map(int, sys.argv[3:]):
    if X is not None:
        run(f"expert t>={t0}, net below", pair(X, N, t0))
    run(f"exact t>={t0}, net below", pair(E, N, t0))
    run(f"net t>={t0}, exact below", pair(N, E, t0))

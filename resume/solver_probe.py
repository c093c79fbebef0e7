"""Probe: FLD and accuracy (100 per class) of a few sampler settings, with the eval cache (chunks reusable by tables)."""
import sys, types, json
from diffusion.evaluation.samplers_report import DigitJudge
from diffusion.evaluation.sample_cache import SampleCache
from diffusion.guided_sampler import GuidedSampler as GS
args = types.SimpleNamespace(lenet=None, eta=0.0, n_per_class=100, seed=0, cache=SampleCache("/work/main/runs/eval-cache"))
J = DigitJudge(args)
S = GS.load("mnist", "/work/main/runs/mnist_v3")
for spec in sys.argv[1:]:  # g:sampler:steps:spacing
    g, smp, steps, spacing = spec.split(":")
    S.spacing = None if spacing == "world" else spacing
    r = J(S, float(g), int(steps), smp)
    print(json.dumps({"g": float(g), "sampler": smp, "steps": int(steps), "spacing": spacing, **r}), flush=True)

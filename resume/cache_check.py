import numpy as np
from diffusion.evaluation.sample_cache import SampleCache
from diffusion.evaluation.samplers_report import reference, CALLS, CONVERGED
from diffusion.evaluation.mnist_report import CHUNK
from diffusion.guided_sampler import GuidedSampler
S = GuidedSampler.load("mnist"); C = SampleCache("runs/eval-cache")
labels = np.repeat(np.arange(10), 100)
todo = 0
for g in (1.0, 2.0):
    for m, steps in [(m, s) for m in ["ddpm","ddim","dpm++2m","dpm++2m-sde","unipc"] for s in CALLS] + [CONVERGED]:
        on = reference(S) if (m, steps) == CONVERGED else S
        have = 0
        for k, i in enumerate(range(0, 1000, CHUNK)):
            run = dict(labels=[str(v) for v in labels[i:i+CHUNK]], guidance=g, steps=steps, sampler=m, eta=0.0, seed=k, guide=None)
            have += (C.folder / f"{C.key(on, run)}.npy").exists()
        if have < 4:
            todo += (4 - have) * steps * (2 if g > 1 else 1)
        print(g, m, steps, f"{have}/4")
print("remaining chunk-steps (x250 digit-forwards):", todo)

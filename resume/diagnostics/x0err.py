"""Diagnostic (not shipped): the unconditional branch's x0 error against the exact denoiser's, per t,
on held-out test digits: where in the noise range does the network's posterior mean go wrong?"""
import sys, torch
from diffusion.guided_sampler import GuidedSampler
from diffusion.worlds.mnist_data import load_mnist
torch.set_num_threads(2)
x, y = load_mnist("test")
x0 = x[:200].float(); print(x0.shape, x0.min().item(), x0.max().item())
for snap in sys.argv[1:]:
    net = GuidedSampler.load("mnist", snap); ex = net.exact(2000, 0)
    N, E, D = net.checkpoint.model, ex.checkpoint.model, net.checkpoint.diffusion
    null = torch.full((len(x0),), 10)
    print(snap)
    for t in (999, 950, 900, 800, 700, 600, 500, 400, 300, 200, 100):
        tt = torch.full((len(x0),), t)
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(t))
        xt = D.q_sample(x0, tt, noise)
        with torch.inference_mode():
            pn, pe = D.predict_x0(xt, tt, N(xt, tt, null)), D.predict_x0(xt, tt, E(xt, tt, null))
        a = lambda p: ((p - x0) ** 2).mean().item()
        print(f"t {t:4d}  x0-mse net {a(pn):.4f}  exact {a(pe):.4f}  net-vs-exact {((pn - pe) ** 2).mean().item():.5f}", flush=True)

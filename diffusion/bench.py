"""Sampler speed on this machine, as ratios measured in one run: `python -m diffusion.bench`.

  python -m diffusion.bench [--json] [--markdown FILE] [--threads N] [--repeats R]
      [--points-checkpoint DIR] [--mnist-checkpoint DIR]

The FLOP limit of a job is its work (the model's multiply-adds per forward pass, counted from its
layers, x 2 FLOP, x the network rows the job needs) over this machine's measured fp32 matmul
throughput; the naive figure runs the same job the way the reference notebooks do. Wall times are
the best of --repeats runs, so that a noisy machine shows its quiet moments, and the three figures
of the main ratios (matmul, fast job, naive job) are measured in turn, round after round, so that
they share the same moments: the ratios hold even when the absolute figures do not. --json prints
one JSON object as the last line.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import torch

from .app.compare import DEFAULT_GUIDANCES, compare
from .app.engine import Engine
from .app.handlers import SamplingHandlers
from .guided_sampler import GuidedSampler
from .inputs import Param, Parser, run
from .models.checkpoint import load_checkpoint
from .models.inference import count_flops
from .training.presets import preset
from .training.tasks import DiffusionTask
from .training.trainer import TrainConfig, Trainer
from .worlds.mnist import DIGITS, MNIST
from .worlds.mnist_data import EpochBatches, Split
from .worlds import points_drawn as drawn
from .worlds.points import POINTS

THREADS = Param("threads", int, 1, 256, help="torch threads")
REPEATS = Param("repeats", int, 1, 1000, help="runs per figure; the best is kept")


def best_time(fn, repeats: int) -> float:
    """The fastest of `repeats` calls, after one warm-up call (first-touch allocations, oneDNN kernels)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_best(fns: dict, repeats: int, results: dict | None = None) -> dict:
    """The fastest call of each function, calling them in turn (a b c a b c ...) after one warm-up
    each: on a machine shared with others, every figure then gets its share of the quiet moments,
    and ratios between them hold better than from figures measured one after the other.
    `results`, if given, receives each function's last return value."""
    results = {} if results is None else results
    for name, fn in fns.items():
        results[name] = fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


MATMUL_N = 2048


def matmul_job():
    """fp32 (n x n) @ (n x n) with torch on all its threads: 2 n^3 FLOP per call."""
    a, b = torch.randn(MATMUL_N, MATMUL_N), torch.randn(MATMUL_N, MATMUL_N)
    return lambda: [torch.mm(a, b) for _ in range(3)]


def gflops_of_matmul_job(seconds: float) -> float:
    return 3 * 2 * MATMUL_N ** 3 / seconds / 1e9


def naive_sample(model, diffusion, y: torch.Tensor, null_label: int, guidance: float, steps: int,
                 seed: int) -> tuple[list, list]:
    """The reference notebooks' loop: the eager fp32 model once per step on the doubled batch
    (cond and uncond rows) under no_grad, each frame copied to numpy."""
    gen = torch.Generator().manual_seed(seed)
    chain = diffusion.respace(steps)
    x = torch.randn((len(y), 1, 28, 28), generator=gen)
    rows = torch.cat([y, torch.full_like(y, null_label)])
    xs, x0s = [], []
    with torch.no_grad():
        for i in reversed(range(steps)):
            t = torch.full((len(rows),), chain.timesteps[i])
            eps_c, eps_u = model(torch.cat([x, x]), t, rows).chunk(2)
            eps = eps_u + guidance * (eps_c - eps_u)
            noise = torch.randn(x.shape, generator=gen) if i > 0 else None
            out = chain.step(eps, i, x, noise, "ddpm")
            xs.append(x.numpy().copy())
            x0s.append(out.pred_x0.numpy().copy())
            x = out.prev_sample
    xs.append(x.numpy().copy())
    return xs, x0s


def first_frame_seconds(repeats: int) -> float:
    """From the app's Generate handler being called (its default MNIST run: 16 digits of one label,
    guidance 2, the default sampler and steps, a new seed each time so that the cache cannot
    answer) to its first streamed frame, rendered as the image the browser receives."""
    handlers = SamplingHandlers(Engine())
    handlers.engine.models.get(MNIST)  # the app loads models once, before its first visitor
    seeds = iter(range(10_000, 10_000 + repeats + 1))

    def first():
        d = MNIST.sampling
        stream = handlers.generate(MNIST.name, "shipped", MNIST.default_label, 2.0, d["steps"], d["sampler"], 0.0,
                                   next(seeds), MNIST.sizes.default_n)
        for shown, *_ in stream:  # the first yield only clears the previous run; then the frame
            if "<img" in shown:
                break
        stream.close()
    return best_time(first, repeats)


def compare_seconds(repeats: int) -> dict:
    """The comparison tab's default MNIST run, uncached (a fresh seed each time): its sampler, and
    the same scales with 25 DDPM steps."""
    engine = Engine()
    engine.models.get(MNIST)
    seeds = iter(range(20_000, 20_000 + 4 * repeats + 4))

    def run(**kw):
        return lambda: compare(engine, MNIST, MNIST.default_label, next(seeds), DEFAULT_GUIDANCES, **kw)
    return {"compare_mnist_default_s": best_time(run(), repeats),
            "compare_mnist_ddpm25_s": best_time(run(steps=25, sampler="ddpm"), repeats)}


def train_rates(threads: int, steps: int = 20) -> dict:
    """Training throughput with the shipped presets (no files written; MNIST on random digits,
    since the speed does not depend on the pixels)."""
    out = {}
    for world in (POINTS, MNIST):
        config = TrainConfig(kind=world.name, out="", threads=threads, **preset(world.name))
        data = None
        if world is MNIST:
            data = RandomDigits(config.batch_size * 4)
        trainer = Trainer(DiffusionTask(config, data), config)
        n = steps if world is POINTS else max(3, steps // 4)
        seconds = best_time(lambda: [trainer.train_step() for _ in range(n)], 2) / n
        out[world.name] = (1 / seconds, config.batch_size / seconds)
    return {"train_points_steps_per_s": out[POINTS.name][0], "train_mnist_images_per_s": out[MNIST.name][1]}


class RandomDigits:
    """Random "digits" with the MNIST world's shapes: the training speed does not depend on pixels."""

    def __init__(self, n: int):
        gen = torch.Generator().manual_seed(0)
        self.split = Split(torch.rand((n, 1, 28, 28), generator=gen) * 2 - 1, torch.arange(n) % 10)
        self._batches: EpochBatches | None = None

    def batch(self, step, gen, batch_size):
        if self._batches is None:  # one epoch permutation per epoch, not one per timed step
            self._batches = EpochBatches(self.split, batch_size, 0)
        return self._batches(step)

    def validation_batch(self):
        return self.split.x, self.split.y


def drawn_exact_run(points: GuidedSampler):
    """What the 2D tab does with a drawing of two classes: canvas -> labelled points -> their exact
    denoiser -> the app's default 2D run on it at guidance 3."""
    canvas = drawn.paint({0: [[(-0.8, 0.4), (0.0, 0.7), (0.8, 0.4)]], 1: [[(-0.8, -0.5), (0.8, -0.2)]]})
    s = points.drawn(drawn.from_image(canvas, drawn.DEFAULT_NAMES))
    p = POINTS.sampling
    return s.sample(drawn.DEFAULT_NAMES[0], 3.0, p["steps"], p["sampler"], 0.0, POINTS.sizes.default_n, 0,
                    keep_trajectory=False)


def measure(threads: int, repeats: int, points_source: str | None = None,
            mnist_source: str | None = None) -> dict:
    torch.set_num_threads(threads)
    r: dict = {"threads": threads, "torch": torch.__version__}

    # MNIST: 10 digits (one of each), guidance 2, 100 DDPM steps, every x_t and x0 kept.
    mnist = GuidedSampler.load(MNIST, mnist_source)
    plain = load_checkpoint(mnist.checkpoint.path, MNIST.name)  # a fresh eager NCHW copy
    one = (torch.zeros(1, 1, 28, 28), torch.tensor([500]), torch.tensor([3]))
    # counted on the plain model: torch's counter does not see the fused CPU attention kernel
    r["mnist_mflop_per_image"] = count_flops(plain.model.eval(), *one) / 1e6
    r["mnist_10x100_cfg_gflop"] = r["mnist_mflop_per_image"] * 10 * 2 * 100 / 1e3
    y = torch.arange(10)
    # The FLOP limit's throughput, the fast job and the naive job, in turn (see interleaved_best).
    out: dict = {}
    best = interleaved_best({
        "matmul": matmul_job(),
        "fast": lambda: mnist.sample(DIGITS, 2.0, 100, "ddpm", 0.0, 10, 0),
        "naive": lambda: naive_sample(plain.model.eval(), plain.diffusion, y, 10, 2.0, 100, 0)}, repeats, out)
    r["matmul_gflops"] = gflops_of_matmul_job(best["matmul"])
    r["mnist_10x100_cfg_s"], r["naive_mnist_10x100_cfg_s"] = best["fast"], best["naive"]
    # Same seed, same math, float32 rounding in another order (tests/test_fast.py checks the math in
    # float64): how far apart the final digits end, in [-1, 1] pixel units.
    naive_final, fast_final = torch.from_numpy(out["naive"][0][-1]), out["fast"].samples
    r["fast_vs_naive_max_abs_diff"] = float((fast_final - naive_final).abs().max())
    r["mnist_10x20_ddim_cfg_s"] = best_time(lambda: mnist.sample(DIGITS, 2.0, 20, "ddim", 0.0, 10, 0), repeats)
    r["mnist_10x10_dpm_cfg_s"] = best_time(lambda: mnist.sample(DIGITS, 2.0, 10, "dpm++2m", 0.0, 10, 0), repeats)
    d = MNIST.sampling  # the app's default run: 16 digits of its default label, its sampler and steps
    r["mnist_default_run"] = f"{MNIST.sizes.default_n} digits, {d['steps']} {d['sampler']} steps, guidance 2"
    r["mnist_default_run_s"] = best_time(lambda: mnist.sample(MNIST.default_label, 2.0, d["steps"], d["sampler"],
                                                              0.0, MNIST.sizes.default_n, 0), repeats)
    r.update(compare_seconds(max(1, repeats // 2)))
    r["time_to_first_frame_s"] = first_frame_seconds(max(repeats, 5))

    # Points: 1000 points, guidance 2 (2000 rows a step), 100 DDPM steps, all frames kept.
    points = GuidedSampler.load(POINTS, points_source)
    r["points_model"] = json.loads((points.checkpoint.path / "config.json").read_text())
    one = (torch.zeros(1, 2), torch.tensor([500]), torch.tensor([0]))
    r["points_kflop_per_row"] = count_flops(points.checkpoint.model, *one) / 1e3
    r["points_1000x100_cfg_gflop"] = r["points_kflop_per_row"] * 2000 * 100 / 1e6
    r["points_1000x100_cfg_s"] = best_time(
        lambda: points.sample("spiral", 2.0, 100, "ddpm", 0.0, 1000, 0), max(repeats, 5))
    p = POINTS.sampling  # the app's default 2D run: its default label and count, sampler, steps and spacing
    r["points_default_run"] = f"{POINTS.sizes.default_n} points, {p['steps']} {p['sampler']} steps, guidance 2"
    r["points_default_run_s"] = best_time(lambda: points.sample(POINTS.default_label, 2.0, p["steps"], p["sampler"],
                                                                0.0, POINTS.sizes.default_n, 0), max(repeats, 5))
    r["points_1000x10_dpm_cfg_s"] = best_time(
        lambda: points.sample("spiral", 2.0, 10, "dpm++2m", 0.0, 1000, 0), max(repeats, 5))

    r["drawn_exact_run_s"] = best_time(lambda: drawn_exact_run(points), max(repeats, 5))
    r["drawn_exact_run"] = (f"two drawn strokes -> {POINTS.sizes.default_n} points by their exact denoiser, "
                            f"{p['steps']} {p['sampler']} steps, guidance 3")

    r.update(train_rates(threads))
    r["mnist_flop_limit_s"] = r["mnist_10x100_cfg_gflop"] / r["matmul_gflops"]
    r["mnist_vs_flop_limit"] = r["mnist_10x100_cfg_s"] / r["mnist_flop_limit_s"]
    r["mnist_speedup_vs_naive"] = r["naive_mnist_10x100_cfg_s"] / r["mnist_10x100_cfg_s"]
    r["points_flop_limit_s"] = r["points_1000x100_cfg_gflop"] / r["matmul_gflops"]
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return r


def rows(r: dict) -> list[tuple[str, str, str, str]]:
    """(figure, value, goal, met) for the table."""
    ok = lambda c: "yes" if c else "NO"  # noqa: E731
    return [
        ("fp32 matmul throughput", f"{r['matmul_gflops']:.0f} GFLOPS", f"{r['threads']} threads", ""),
        ("MNIST forward cost per image", f"{r['mnist_mflop_per_image']:.1f} MFLOP", "<= 400 MFLOP",
         ok(r["mnist_mflop_per_image"] <= 400)),
        ("points forward cost per point", f"{r['points_kflop_per_row']:.1f} kFLOP", "<= 400 kFLOP",
         ok(r["points_kflop_per_row"] <= 400)),
        ("MNIST 10 digits x 100 DDPM steps, guidance 2", f"{r['mnist_10x100_cfg_s']:.3f} s", "", ""),
        ("  its work / its FLOP limit", f"{r['mnist_10x100_cfg_gflop']:.1f} GFLOP / {r['mnist_flop_limit_s']:.3f} s", "", ""),
        ("  time / FLOP limit", f"{r['mnist_vs_flop_limit']:.2f}x", "<= 1.5x", ok(r["mnist_vs_flop_limit"] <= 1.5)),
        ("  naive loop (eager, no_grad, numpy frames)", f"{r['naive_mnist_10x100_cfg_s']:.3f} s", "", ""),
        ("  fast vs naive final digits, max abs difference (float32)", f"{r['fast_vs_naive_max_abs_diff']:.1e}", "", ""),
        ("  speed-up over the naive loop", f"{r['mnist_speedup_vs_naive']:.2f}x", ">= 3x", ok(r["mnist_speedup_vs_naive"] >= 3)),
        ("MNIST 10 digits x 20 DDIM steps, guidance 2", f"{r['mnist_10x20_ddim_cfg_s']:.3f} s", "", ""),
        ("MNIST 10 digits x 10 DPM-Solver++(2M) steps, guidance 2", f"{r['mnist_10x10_dpm_cfg_s']:.3f} s",
         ">= 8x faster than 100 DDPM", ok(r["mnist_10x100_cfg_s"] >= 8 * r["mnist_10x10_dpm_cfg_s"])),
        (f"MNIST the app's default run ({r['mnist_default_run']})", f"{r['mnist_default_run_s']:.3f} s", "<= 3 s",
         ok(r["mnist_default_run_s"] <= 3)),
        ("comparison tab, default MNIST run (uncached)", f"{r['compare_mnist_default_s']:.2f} s", "", ""),
        ("  the same with 25 DDPM steps", f"{r['compare_mnist_ddpm25_s']:.2f} s", ">= 2x the default's time",
         ok(r["compare_mnist_ddpm25_s"] >= 2 * r["compare_mnist_default_s"])),
        ("MNIST time to first frame (the app's Generate handler)", f"{r['time_to_first_frame_s'] * 1e3:.1f} ms", "<= 150 ms",
         ok(r["time_to_first_frame_s"] <= 0.15)),
        ("points 1000 x 100 DDPM steps, guidance 2", f"{r['points_1000x100_cfg_s'] * 1e3:.1f} ms", "<= 50 ms",
         ok(r["points_1000x100_cfg_s"] <= 0.05)),
        ("  its work / its FLOP limit", f"{r['points_1000x100_cfg_gflop']:.2f} GFLOP / {r['points_flop_limit_s'] * 1e3:.1f} ms", "", ""),
        (f"points the app's default run ({r['points_default_run']})", f"{r['points_default_run_s'] * 1e3:.1f} ms",
         "", ""),
        (f"drawn data, exact model ({r['drawn_exact_run']})", f"{r['drawn_exact_run_s']:.2f} s", "<= 3 s",
         ok(r["drawn_exact_run_s"] <= 3)),
        ("points 1000 x 10 DPM-Solver++(2M) steps, guidance 2", f"{r['points_1000x10_dpm_cfg_s'] * 1e3:.1f} ms", "", ""),
        ("training: points steps/s (batch 512)", f"{r['train_points_steps_per_s']:.1f}", "", ""),
        ("training: MNIST images/s", f"{r['train_mnist_images_per_s']:.0f}", "", ""),
        ("peak RSS", f"{r['peak_rss_mb']:.0f} MB", "", ""),
    ]


def table(r: dict) -> str:
    body = rows(r)
    w = [max(len(row[i]) for row in body) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w[i]) for i, c in enumerate(row)).rstrip() for row in body)


def markdown(r: dict) -> str:
    lines = ["| figure | this machine | goal | met |", "|---|---|---|---|"]
    lines += [f"| {a.strip()} | {b} | {c} | {d} |" for a, b, c, d in rows(r)]
    model = ", ".join(f"{k}={v}" for k, v in r.get("points_model", {}).items())
    return "\n".join(lines) + (f"\n\n{r['threads']} threads, torch {r['torch']}, best of the runs; points model: "
                               f"{model or 'shipped'}; the first frame and the comparison run the app's handlers on "
                               "the shipped checkpoints. Produced by `python -m diffusion.bench --markdown FILE`.\n")


def build_parser() -> Parser:
    ap = Parser(prog="python -m diffusion.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--markdown", default=None, help="also write the table to this Markdown file")
    ap.add_param(THREADS, str(os.cpu_count()))
    ap.add_param(REPEATS, "5")
    ap.add_argument("--points-checkpoint", default=None, help="a points checkpoint folder (default: shipped)")
    ap.add_argument("--mnist-checkpoint", default=None,
                    help="an MNIST checkpoint folder (default: shipped); the app's handlers (first frame, "
                         "comparison) always run the shipped one")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    r = measure(THREADS.parse(args.threads), REPEATS.parse(args.repeats), args.points_checkpoint,
                args.mnist_checkpoint)
    print(table(r))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(markdown(r))
    if args.json:
        print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

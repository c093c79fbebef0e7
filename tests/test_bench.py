"""The benchmark command runs and prints the figures the speed issue asks for (their values are
this machine's business: nothing here is timed)."""
import json

from diffusion import bench

KEYS = ["matmul_gflops", "mnist_10x100_cfg_gflop", "mnist_10x100_cfg_s", "naive_mnist_10x100_cfg_s",
        "mnist_10x20_ddim_cfg_s", "points_1000x100_cfg_s", "time_to_first_frame_s",
        "train_points_steps_per_s", "train_mnist_images_per_s", "peak_rss_mb", "mnist_10x10_dpm_cfg_s",
        "points_1000x10_dpm_cfg_s", "compare_mnist_default_s", "compare_mnist_ddpm25_s", "mnist_default_run_s",
        "points_default_run_s", "mnist_mflop_per_image", "points_kflop_per_row", "drawn_exact_run_s"]


def test_bench_json_has_every_figure(capsys, tmp_path):
    assert bench.main(["--json", "--repeats", "1", "--threads", "2", "--markdown", str(tmp_path / "perf.md")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    r = json.loads(lines[-1])
    assert all(isinstance(r[k], float) and r[k] > 0 for k in KEYS), {k: r.get(k) for k in KEYS}
    # the work is counted from the layers: 10 digits x (cond + uncond) x 100 steps x per-image FLOP
    assert r["mnist_10x100_cfg_gflop"] == round(r["mnist_mflop_per_image"] * 2000 / 1e3, 6)
    assert r["fast_vs_naive_max_abs_diff"] < 1e-3  # same seed, same math (exactly: tests/test_fast.py)
    assert "| time / FLOP limit |" in (tmp_path / "perf.md").read_text()
    assert any(line.startswith("MNIST 10 digits x 100 DDPM steps") for line in lines)


def test_interleaved_best_calls_in_turn_and_keeps_the_last_results():
    calls, out = [], {}
    count = {"a": 0, "b": 0}

    def job(name):
        def run():
            calls.append(name)
            count[name] += 1
            return count[name]
        return run

    best = bench.interleaved_best({"a": job("a"), "b": job("b")}, repeats=2, results=out)
    assert calls == ["a", "b", "a", "b", "a", "b"]  # one warm-up each, then in turn
    assert out == {"a": 3, "b": 3} and set(best) == {"a", "b"} and all(v >= 0 for v in best.values())

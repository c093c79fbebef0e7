"""The sampling and evaluation command lines on the shipped 2D checkpoint, and their errors."""
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from diffusion import evaluate, sample
from diffusion.inputs import run
from diffusion.models.checkpoint import CHECKPOINTS


def test_sample_points_npy(tmp_path):
    out = tmp_path / "spiral.npy"
    assert run(sample.main, ["points", "--label", "spiral", "--guidance", "1", "--steps", "20",
                             "--sampler", "ddpm", "--n", "50", "--seed", "0", "--out", str(out)]) == 0
    x = np.load(out)
    assert x.shape == (50, 2) and x.dtype == np.float32 and np.abs(x).max() <= 1.0 + 1e-6


def test_sample_ddim_png_and_reproducible(tmp_path):
    args = ["points", "--label", "moons", "--guidance", "3", "--steps", "10", "--sampler", "ddim",
            "--eta", "0.0", "--n", "30", "--seed", "4"]
    assert run(sample.main, args + ["--out", str(tmp_path / "a.npy")]) == 0
    assert run(sample.main, args + ["--out", str(tmp_path / "b.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert run(sample.main, args + ["--out", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args,needle", [
    (["--label", "circle"], "label='circle' is not allowed; allowed: spiral, s_curve, moons, random"),
    (["--guidance", "25"], "guidance=25 is not allowed; allowed: a number in 0..10"),
    (["--steps", "0"], "steps=0 is not allowed; allowed: an integer in 1..1000"),
    (["--steps", "1001"], "steps=1001 is not allowed; allowed: an integer in 1..1000"),
    (["--n", "0"], "n=0 is not allowed; allowed: an integer in 1..10000"),
    (["--n", "10001"], "n=10001 is not allowed; allowed: an integer in 1..10000"),
    (["--sampler", "euler"], "sampler='euler' is not allowed; allowed: ddpm, ddim"),
    (["--out", "x.txt"], "must end in .npy or .png"),
    (["--checkpoint", "/nonexistent/ck"], "no checkpoint at /nonexistent/ck"),
])
def test_bad_input_is_one_line(tmp_path, capsys, args, needle):
    base = ["points", "--out", str(tmp_path / "x.npy")]
    assert run(sample.main, base + args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "diffusion.sample", "points", "--steps", "abc",
                           "--out", str(tmp_path / "x.npy")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "steps='abc' is not allowed; allowed: an integer in 1..1000" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_evaluate_points_prints_the_table(tmp_path, capsys):
    assert run(evaluate.main, ["points", "--n", "100", "--steps", "10", "--json", str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    assert "| spiral |" in out and "| random |" in out and "coverage" in out
    import json
    rows = json.loads((tmp_path / "e.json").read_text())
    assert {r["label"] for r in rows} == {"spiral", "s_curve", "moons", "random"}
    assert all(r["distance"] < 0.2 for r in rows if r["label"] != "random")


def test_vs_exact_tables_put_the_network_beside_the_perfect_model(tmp_path, capsys):
    assert run(evaluate.main, ["points", "--vs-exact", "100", "--n", "100", "--steps", "10", "--guidance", "1",
                               "--json", str(tmp_path / "p.json")]) == 0
    import json
    rows = json.loads((tmp_path / "p.json").read_text())
    curves = [r for r in rows if r["label"] != "random"]
    assert len(curves) == 3 and all(r["exact_distance"] < 0.01 for r in curves)  # the exact model's samples are on it
    assert all(r["coverage_ratio"] == r["net_coverage"] / r["exact_coverage"] for r in curves)
    assert run(evaluate.main, ["mnist", "--vs-exact", "20", "--n-per-class", "3", "--steps", "5",
                               "--sampler", "ddim", "--guidance", "0", "2", "--json", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "| guidance | network FLD | exact FLD | ratio |" in out and "real test" in out
    m = json.loads((tmp_path / "m.json").read_text())
    assert [r["guidance"] for r in m] == [0.0, 2.0] and all(r["ratio"] > 0 for r in m)
    assert m[1]["exact_accuracy"] >= 0.9  # a perfect model of 20 digits per class draws the asked digit


def test_grids_and_tables_land_in_their_own_card_sections(tmp_path, capsys):
    """--grids draws the pictures beside the weights and links them; --update-card on --vs-exact
    writes its own section, before the pictures, and leaves the other sections alone."""
    import shutil

    from PIL import Image
    folder = tmp_path / "points"
    shutil.copytree(CHECKPOINTS / "points", folder)
    before = (folder / "README.md").read_text()
    trained = before[:before.index("<!-- evaluation:begin -->")]
    assert run(evaluate.main, ["points", "--checkpoint", str(folder), "--grids", "--steps", "4", "--n", "40"]) == 0
    picture = Image.open(folder / "grid_guidance.png")
    assert picture.width >= 4 * 240 and picture.height >= 4 * 240  # 4 guidance columns x 4 label rows
    assert run(evaluate.main, ["points", "--checkpoint", str(folder), "--vs-exact", "50", "--n", "40", "--steps", "4",
                               "--guidance", "1", "--update-card"]) == 0
    card = (folder / "README.md").read_text()
    assert card.startswith(trained)  # the training part is kept
    order = [card.index(f"<!-- {s}:begin -->") for s in ("evaluation", "vs-exact", "grids")]
    assert order == sorted(order)
    assert "![" in card and "(grid_guidance.png)" in card and "| guidance | label | distance (network / exact)" in card
    # once more: the sections are replaced, not appended
    assert run(evaluate.main, ["points", "--checkpoint", str(folder), "--grids", "--steps", "4", "--n", "40"]) == 0
    assert (folder / "README.md").read_text().count("<!-- grids:begin -->") == 1


def test_samplers_table_puts_each_sampler_beside_the_converged_one(tmp_path, capsys, monkeypatch):
    """--samplers: one row per (guidance, sampler, steps) plus the converged DDIM row, ratios to it."""
    from diffusion.evaluation import samplers_report
    monkeypatch.setattr(samplers_report, "CONVERGED", ("ddim", 12))  # the 500-step reference, cheaper
    assert run(evaluate.main, ["points", "--samplers", "ddim", "dpm++2m", "--calls", "3", "6", "--n", "60",
                               "--guidance", "1", "--json", str(tmp_path / "s.json"),
                               "--plot", str(tmp_path / "s.png")]) == 0
    import json

    from PIL import Image
    rows = json.loads((tmp_path / "s.json").read_text())
    assert [(r["sampler"], r["steps"]) for r in rows] == [("ddim", 3), ("ddim", 6), ("dpm++2m", 3), ("dpm++2m", 6),
                                                          ("ddim", 12)]
    ref = rows[-1]
    assert ref["distance_ratio"] == 1.0 and all(r["coverage_ratio"] == r["coverage"] / ref["coverage"] for r in rows)
    picture = Image.open(tmp_path / "s.png")
    assert picture.width == 2 * picture.height  # two square panels: distance and coverage
    assert "| guidance | sampler | network calls | distance |" in capsys.readouterr().out


# -- guidance methods ---------------------------------------------------------------------------
from diffusion.core.guidance import METHODS  # noqa: E402
from diffusion.worlds.mnist import MNIST  # noqa: E402
from diffusion.worlds.points import POINTS  # noqa: E402

NEEDS_SHIPPED_MODEL = ("autoguidance", "classifier")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("world", [POINTS.name, MNIST.name])
def test_every_method_from_the_cli(tmp_path, capsys, world, method):
    """Every method runs at --guidance 2; autoguidance and classifier guidance need the world's
    shipped weak model / classifier: they run once shipped, else the error names the checkpoint."""
    out = tmp_path / "x.npy"
    rc = run(sample.main, [world, "--method", method, "--guidance", "2", "--steps", "3", "--sampler", "ddim",
                           "--n", "4", "--out", str(out)])
    err = capsys.readouterr().err
    if method in NEEDS_SHIPPED_MODEL and rc != 0:
        assert rc == 2 and "checkpoint" in err and world in err and len(err.strip().splitlines()) == 1
    else:
        assert rc == 0, err
        assert np.load(out).shape[0] == 4


def test_method_parameters_from_the_cli(tmp_path):
    base = ["points", "--label", "spiral", "--guidance", "3", "--steps", "4", "--sampler", "ddim", "--n", "30"]
    outs = {}
    for name, extra in (("cfg", []), ("rescale", ["--method", "rescale", "--phi", "0.9"]),
                        ("apg", ["--method", "apg", "--apg-eta", "0.5", "--space", "eps"]),
                        ("interval", ["--method", "interval", "--sigma-hi", "inf"]),
                        ("exact", ["--method", "classifier", "--exact", "30"])):
        assert run(sample.main, base + extra + ["--out", str(tmp_path / f"{name}.npy")]) == 0
        outs[name] = np.load(tmp_path / f"{name}.npy")
    assert not np.array_equal(outs["cfg"], outs["rescale"]) and not np.array_equal(outs["cfg"], outs["apg"])
    help_text = sample.build_parser().format_help()
    assert "--apg-eta" in help_text and "--phi" in help_text and "a number in 0..1; default 0.7" in help_text


@pytest.mark.parametrize("args,needle", [
    (["--method", "cfg++"], "method='cfg++' is not allowed; allowed: cfg, rescale, interval, apg"),
    (["--method", "rescale", "--phi", "1.5"], "phi=1.5 is not allowed; allowed: a number in 0..1"),
    (["--phi", "0.5"], "phi=0.5 is not allowed; allowed: only with method=rescale"),
    (["--method", "apg", "--apg-eta", "x"], "apg_eta='x' is not allowed; allowed: a number in 0..1"),
    (["--method", "apg", "--momentum", "-1"], "momentum=-1 is not allowed; allowed: a number in -1..1, excluding -1 and 1"),
    (["--method", "cfg_zero_star", "--zero-init-steps", "2.5"], "zero_init_steps=2.5 is not allowed; allowed: an integer >= 0"),
])
def test_bad_method_input_is_one_line_and_exit_2(tmp_path, capsys, args, needle):
    assert run(sample.main, ["points", "--steps", "2", "--n", "4", "--out", str(tmp_path / "x.npy")] + args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_evaluate_methods_prints_the_table_saves_the_frontier_and_updates_the_card(tmp_path, capsys):
    import json
    import shutil

    from PIL import Image
    folder = tmp_path / "points"
    shutil.copytree(CHECKPOINTS / "points", folder)
    assert run(evaluate.main, ["points", "--checkpoint", str(folder), "--methods", "cfg", "interval", "rescale",
                               "--phi", "0.5", "--guidance", "1", "3", "--n", "40", "--steps", "4", "--sampler", "ddim",
                               "--json", str(tmp_path / "m.json"), "--plot", str(tmp_path / "m.png"),
                               "--update-card"]) == 0
    rows = json.loads((tmp_path / "m.json").read_text())
    assert [(r["method"], r["guidance"]) for r in rows] == [(m, g) for m in ("cfg", "interval", "rescale")
                                                            for g in (1.0, 3.0)]
    assert rows[4]["parameters"] == "phi=0.5" and all(r["distance"] > 0 and r["coverage"] > 0 for r in rows)
    assert Image.open(tmp_path / "m.png").size[0] > 300
    out = capsys.readouterr().out
    assert "| method | parameters | guidance | distance | coverage |" in out
    card = (folder / "README.md").read_text()
    assert "<!-- methods:begin -->" in card and "(methods.png)" in card and (folder / "methods.png").exists()
    assert card.index("<!-- evaluation:begin -->") < card.index("<!-- methods:begin -->")
    # MNIST: accuracy and FLD per method and scale, by the LeNet judge
    assert run(evaluate.main, ["mnist", "--methods", "cfg", "cfg_zero_star", "--guidance", "2", "--n-per-class", "2",
                               "--steps", "3", "--sampler", "ddim", "--json", str(tmp_path / "d.json")]) == 0
    digits = json.loads((tmp_path / "d.json").read_text())
    assert [r["method"] for r in digits] == ["cfg", "cfg_zero_star"] and all("fld" in r and "accuracy" in r
                                                                             for r in digits)


@pytest.mark.parametrize("args,needle", [
    (["--methods", "cfg", "nope"], "method='nope' is not allowed"),
    (["--methods", "cfg", "--phi", "0.5"], "phi=0.5 is not allowed; allowed: only with method=rescale in --methods"),
    (["--phi", "0.5"], "go with --methods"),
])
def test_evaluate_methods_bad_input(capsys, args, needle):
    assert run(evaluate.main, ["points", "--n", "10", "--steps", "2"] + args) == 2
    assert needle in capsys.readouterr().err

"""The app's handlers without a browser: inputs -> outputs, and gr.Error for bad input."""
import numpy as np
import gradio as gr
import pytest
from PIL import Image

from diffusion.app import train_handlers as train_mod
from diffusion.app.engine import Engine, Request
from diffusion.app.handlers import SamplingHandlers
from diffusion.app.train_handlers import TrainHandlers
from diffusion.core.field import direction_field
from diffusion.core.guidance import make_guider
from diffusion.training.jobs import JobManager
from diffusion.worlds import get_world

h = SamplingHandlers(Engine())  # the app builds one engine and hands it to its handlers; so do the tests


def run_generate(*args):
    return list(h.generate(*args))


def test_generate_clears_the_old_run_streams_then_plays_everything():
    outs = run_generate("points", "shipped", "moons", 2.0, 30, "DDPM", 0.0, 4, 300)
    start, *streamed, shown, last = outs
    # the first yield names the new run and empties every output of the previous one
    assert "Run " in start[0] and "30 DDPM steps" in start[0] and "<img" not in start[0]
    assert start[1] is None and start[3] is None and start[4] is None and start[5] is None
    assert start[2]["maximum"] == 30  # the field's step slider spans the new run at once
    assert streamed and all("gde-live" in o[0] and o[0].count('<img class="gde-f') == 1 for o in streamed)
    assert shown[0].count('<img class="gde-f') == 31 and "gde-live" not in shown[0]  # every step of 30, playable
    frame, final, slider, video, files, state, status = last
    assert isinstance(frame, type(gr.skip()))  # the player keeps playing while the files are written
    assert isinstance(state, Request) and state.label == "moons" and state.steps == 30
    assert slider["maximum"] == 30 and slider["value"] == 30
    assert sorted(p.rsplit(".", 1)[1] for p in files) == ["gif", "mp4", "npy", "png"]
    assert np.load([p for p in files if p.endswith(".npy")][0]).shape == (300, 2)
    assert final.endswith(".png") and video.endswith(".mp4") and "moons" in status and "seed 4" in status
    # a repeat is served from the cache: cleared, then the whole run at once, under a new run number
    again = run_generate("points", "shipped", "moons", 2.0, 30, "DDPM", 0.0, 4, 300)
    assert len(again) == 2 and "from the cache" in again[-1][-1] and again[-1][4] == files
    assert again[-1][0].count('<img class="gde-f') == 31 and again[-1][0] != shown[0]


@pytest.mark.parametrize("args, message", [
    (("points", "shipped", "spiral", 11.0 * 2, 30, "DDPM", 0, 0, 10), "guidance=22.0 is not allowed; allowed: a number in 0..10"),
    (("points", "shipped", "spiral", 2, 30, "DDPM", 0, 0, 60000), "n=60000 is not allowed; allowed: an integer in 1..10000"),
    (("points", "shipped", "heart", 2, 30, "DDPM", 0, 0, 10), "label='heart' is not allowed"),
    (("mnist", "shipped", "3", 2, 0, "DDIM", 0, 0, 4), "steps=0 is not allowed"),
    (("mnist", "shipped", "12", 2, 10, "DDIM", 0, 0, 4), "label='12' is not allowed"),
])
def test_bad_input_is_a_gradio_error(args, message):
    with pytest.raises(gr.Error, match=message.replace("(", r"\(").replace(".", r"\.")):
        run_generate(*args)


def test_the_field_at_stored_steps():
    *_, state, _ = run_generate("points", "shipped", "spiral", 3.0, 20, "DDIM", 0.0, 1, 200)[-1]
    field = h.field_at(state, 0, ["guided", "unconditional"])
    assert field.ndim == 3 and field.shape[2] == 3
    assert not np.array_equal(field, h.field_at(state, 0, []))  # the arrows are drawn
    assert not np.array_equal(h.field_at(state, 9, []), h.field_at(state, 0, []))  # another step's points
    with pytest.raises(gr.Error, match="step=10000 is not allowed; allowed: an integer in 0..20"):
        h.field_at(state, 10_000, [])  # refused, not moved silently to the last step
    assert h.field_at(None, 3, []) == gr.skip()

    png, metrics = h.compare_guidance("mnist", "1", 0, "0, 2")
    assert Image.open(png).size[0] > 100
    assert [m["guidance"] for m in metrics["metrics"]] == [0.0, 2.0]
    assert all(0 <= m["accuracy"] <= 1 and m["diversity"] > 0 for m in metrics["metrics"])
    with pytest.raises(gr.Error, match="guidance=40 is not allowed"):
        h.compare_guidance("mnist", "1", 0, "0, 40")
    png, metrics = h.compare_guidance("mnist", "1", 0, "2", "cfg, interval")
    assert [(m["method"], m["guidance"]) for m in metrics["metrics"]] == [("cfg", 2.0), ("interval", 2.0)]
    assert all(m["fld"] > 0 for m in metrics["metrics"])


def test_generate_with_a_method_shows_its_arrow_and_names_bad_parameters():
    *_, state, status = run_generate("points", "shipped", "spiral", 3.0, 8, "DDIM", 0.0, 1, 100, "apg", "network")[-1]
    assert state.method == "apg" and "apg" in status
    cfg_state = run_generate("points", "shipped", "spiral", 3.0, 8, "DDIM", 0.0, 1, 100)[-1][5]
    assert cfg_state.method == "cfg" and cfg_state.method_params == ()
    guided = h.field_at(state, 2, ["guided"])
    assert not np.array_equal(guided, h.field_at(cfg_state, 2, ["guided"]))  # APG's arrow, not CFG's
    exact = run_generate("points", "shipped", "spiral", 3.0, 8, "DDIM", 0.0, 1, 100, "classifier",
                         "exact reference")[-1]
    assert exact[5].model == "exact reference" and "exact reference" in exact[-1]
    # A stochastic run is spaced otherwise (points: lambda clipped): the field takes the run's step.
    sde = run_generate("points", "shipped", "spiral", 3.0, 8, "dpm++2m-sde", 0.0, 1, 100, "interval", "network")[-1][5]
    assert h.field_at(sde, 2, ["guided"]).ndim == 3
    ck, t = h.engine.models.get("points", "shipped").checkpoint, h.engine.cached(sde).timesteps[2]
    with pytest.raises(ValueError, match="is not step 2 of 8 steps spaced 'logsnr'"):
        direction_field(ck.model, ck.diffusion, 0, 3, 3.0, t, method=make_guider("interval"), steps=8, index=2,
                        spacing="logsnr")
    with pytest.raises(gr.Error, match=r"phi=1\.5 is not allowed; allowed: a number in 0\.\.1"):
        run_generate("points", "shipped", "spiral", 2.0, 8, "DDIM", 0.0, 1, 100, "rescale", "network", 1.5)
    with pytest.raises(gr.Error, match="denoiser='perfect' is not allowed"):
        run_generate("points", "shipped", "spiral", 2.0, 8, "DDIM", 0.0, 1, 100, "cfg", "perfect")


def test_methods_comparison_streams_cell_by_cell(monkeypatch):
    monkeypatch.setitem(get_world("points").compare, "steps", 5)
    outs = list(h.compare_ui("points", "shipped", "moons", 2, "0, 2", ["cfg", "interval"], "network"))
    assert len(outs) == 4  # one yield per (method, scale) cell, each a whole grid of the final size
    grids = [o[0] for o in outs]
    assert all(g.shape == grids[-1].shape for g in grids) and not np.array_equal(grids[0], grids[-1])
    assert isinstance(outs[-1][1], np.ndarray)  # the frontier plot
    assert [r[:2] for r in outs[-1][2]["value"]] == [["cfg", 0.0], ["cfg", 2.0], ["interval", 0.0], ["interval", 2.0]]
    assert "4 of 4 done" in outs[-1][3] and "lower left" in outs[-1][4]
    exact = list(h.compare_ui("points", "shipped", "moons", 2, "2", "cfg, classifier", "exact reference"))[-1]
    assert "classifier guidance at scale s equals CFG at scale s" in exact[3]
    rows = exact[2]["value"]
    assert rows[0][2:] == pytest.approx(rows[1][2:], abs=1e-3)  # the same samples, to float error


def test_train_tab_trains_registers_and_rejects_a_second_job(tmp_path, monkeypatch):
    th = TrainHandlers(h.engine, JobManager(root=tmp_path, threads=1))
    monkeypatch.setattr(train_mod, "POLL", 0.2)
    gen = th.train("points", ["moons"], 32, "tiny", 10, 2e-3, 0.2, 0)
    first = next(gen)
    assert "Training" in first[2]
    with pytest.raises(gr.Error, match="already running"):
        list(th.train("points", ["spiral"], 32, "tiny", 10, 2e-3, 0.2, 0))
    assert th.stop().startswith("Stopping")
    *_, last = gen
    loss, preview, status, zipped, points_pick, _ = last
    assert "Stopped" in status and zipped.endswith(".zip") and preview is not None
    name = points_pick["value"]
    assert name in h.engine.models.names("points")
    out = run_generate("points", name, "moons", 2.0, 10, "DDIM", 0.0, 0, 50)[-1]
    assert out[5].model == name
    # the zip it offers is an upload that the Train tab accepts
    status, points_pick, _ = th.use_upload([zipped])
    assert "Accepted" in status and points_pick["value"] in h.engine.models.names("points")
    with pytest.raises(gr.Error, match="width=8 is not allowed"):
        list(th.train("points", ["moons"], 8, "tiny", 10, 2e-3, 0.2, 0))


def test_upload_rejects_pickles(tmp_path):
    bad = tmp_path / "pytorch_model.bin"
    bad.write_bytes(b"\x80\x04not really")
    with pytest.raises(gr.Error):
        TrainHandlers(h.engine, JobManager()).use_upload([str(bad)])


def test_importing_the_app_builds_the_page_but_loads_no_model():
    import subprocess
    import sys
    from pathlib import Path
    code = ("import app, gradio as gr; "
            "assert isinstance(app.demo, gr.Blocks); m = app.demo.handlers.engine.models._models; assert m == {}, m")
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, check=True, timeout=120)

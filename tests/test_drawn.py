"""Your own 2D data (issue 20): drawings, rows and files become labelled points, their exact
denoiser is a session's model at once, and a network trained on them for a short while lands on
the strokes, with its snapshots through training."""
import numpy as np
import pytest

from diffusion.app.compare import compare
from diffusion.app.draw_handlers import DrawHandlers
from diffusion.app.models import EXACT
from diffusion.app.engine import Engine
from diffusion.app.handlers import SamplingHandlers
from diffusion.app.models import DRAWING
from diffusion.app.train_handlers import TrainHandlers
from diffusion.training.jobs import STAGES, JobManager
from diffusion.training.stages import stage_samples
from diffusion.worlds import points_drawn as drawn

ARC = [[(-0.8, 0.4), (0.0, 0.7), (0.8, 0.4)]]
LINE = [[(-0.8, -0.5), (0.8, -0.2)]]


def two_strokes():
    return drawn.from_image(drawn.paint({0: ARC, 1: LINE}), ["arc", "line", "unused"])


def test_strokes_become_labelled_points_on_the_strokes():
    d = two_strokes()
    assert d.names == ("arc", "line") and sum(d.counts().values()) == len(d.points) <= drawn.MAX_POINTS
    assert drawn.stroke_distance(d.of("arc"), ARC) < 0.01 and drawn.stroke_distance(d.of("line"), LINE) < 0.01
    assert np.abs(d.points).max() <= 1


@pytest.mark.parametrize("rows, message", [
    ([], "points=[] is not allowed; allowed: at least one point"),
    ([[0, 0, "a"]] * (drawn.MAX_POINTS + 1), f"allowed: at most {drawn.MAX_POINTS} points"),
    ([[0, 0, "a"], [1.5, 0, "b"]], "points[1]=[1.5, 0, 'b'] is not allowed"),
    ([[0, 0, "a"], [0, 0, "b"], [0, 0, "c"], [0, 0, "d"]], "is not allowed; allowed: 1..3 texts"),
    ([[0, 0, "random"]], "class name 1='random' is not allowed"),
    ("[[0, 0, 'a']]", "is not allowed; allowed: a list of [x, y, class name]"),
])
def test_bad_rows_are_refused_by_name(rows, message):
    with pytest.raises(ValueError, match=None) as e:
        drawn.from_rows(rows)
    assert message in str(e.value) and len(str(e.value)) < 400


def test_an_empty_canvas_and_a_bad_file_are_refused(tmp_path):
    with pytest.raises(ValueError, match="drawing=.* is not allowed; allowed: strokes in the brush colours"):
        drawn.from_image(np.zeros((400, 400, 4), np.uint8), drawn.DEFAULT_NAMES)
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"file=.* is not allowed; allowed: a \.npy array of shape \(N, 3\)"):
        drawn.from_file(bad, drawn.DEFAULT_NAMES)


def test_csv_and_npy_uploads_name_their_classes(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("x,y,class\n0.1,0.2,left\n-0.3,0.4,2\n")
    d = drawn.from_file(csv, ["a", "b", "c"])
    assert d.names == ("left", "b") and np.allclose(d.points, [[0.1, 0.2], [-0.3, 0.4]])
    npy = tmp_path / "p.npy"
    np.save(npy, np.array([[0.0, 0.5, 1], [0.5, 0.0, 3]]))
    assert drawn.from_file(npy, ["a", "b", "c"]).names == ("a", "c")


@pytest.fixture(scope="module")
def handlers():
    return DrawHandlers(SamplingHandlers(Engine()))


def test_the_drawing_is_the_sessions_model_at_once(handlers, tmp_path):
    from PIL import Image
    path = tmp_path / "composite.png"
    Image.fromarray(drawn.paint({0: ARC})).save(path)
    editor = {"background": None, "layers": [], "composite": {"path": str(path)}}
    preview, status, model, label = handlers.use_drawing(editor, "arc", "line", "x", None)
    assert preview.ndim == 3 and "Only one class" in status
    assert label["choices"] == ["arc", "random"]  # one class: it and random are offered
    name, models = model["value"], handlers.engine.models
    assert name.startswith(DRAWING) and models.latest_drawing("points")[0] == name
    with pytest.raises(ValueError, match="model="):
        models.get("points", name, owner="another session")
    for guidance in (0, 3):
        req = handlers.sampling.request("points", name, "arc", guidance, 20, "unipc", 0.0, 0, 500)
        assert drawn.stroke_distance(handlers.engine.run(req).samples, ARC) <= 0.02
    c = compare(handlers.engine, "points", "arc", 0, "0, 2", model=name)  # measured against the drawing
    assert len(c.cells) == 2 and all(m["distance"] < 0.02 for m in c.metrics)


def test_a_network_trained_on_the_drawing_for_30_s_lands_on_the_strokes(handlers, tmp_path, monkeypatch):
    """Issue 20, acceptance 2 (30 s of the at most 60 s), through the Train tab's handlers: the
    network's guided samples lie within 0.05 of the strokes, and the stage slider has a picture
    (network beside the exact denoiser) for each of at least five EMA snapshots."""
    from PIL import Image

    import diffusion.app.train_handlers as train_mod
    monkeypatch.setattr(train_mod, "POLL", 0.5)
    path = tmp_path / "composite.png"
    Image.fromarray(drawn.paint({0: ARC, 1: LINE})).save(path)
    handlers.use_drawing({"composite": {"path": str(path)}}, "arc", "line", "x", None)
    th = TrainHandlers(handlers.engine, JobManager(root=tmp_path, threads=1))
    *_, last = th.train("points", [DRAWING], 128, "tiny", 30, 2e-3, 0.2, 0)
    assert "Done" in last[2] and last[4]["value"] in handlers.engine.models.names("points")
    picture, slider, paths = th.stages()
    assert 5 <= len(paths) <= STAGES and picture == paths[-1] and slider["maximum"] == len(paths) - 1
    assert th.stage_at(paths, 0) == paths[0] and Image.open(paths[0]).size[0] > 500
    exact = handlers.sampling.request("points", last[4]["value"], "arc", 2.0, 20, "unipc", 0.0, 0, 100,
                                      denoiser=EXACT)
    assert exact.model.startswith("drawing ")  # the network's exact reference: its drawing's exact denoiser
    snap = th.jobs.current().snapshot()
    assert snap.checkpoint.config.labels == ["arc", "line"]
    stages = stage_samples(snap.checkpoint, snap.stages, guidance=2.0)
    dist = [drawn.stroke_distance(x, ARC + LINE) for _, x, _ in stages]
    print("network's distance to the strokes by stage:", " ".join(f"{v:.4f}" for v in dist))
    assert dist[-1] <= 0.05 and dist[-1] < dist[0]  # it learnt, and not from the start
    _, x, y = stages[-1]
    assert drawn.stroke_distance(x[y == 0], ARC) <= 0.05 and drawn.stroke_distance(x[y == 1], LINE) <= 0.05


def test_training_on_my_drawing_needs_a_drawing(handlers, tmp_path):
    th = TrainHandlers(handlers.engine, JobManager(root=tmp_path))
    with pytest.raises(Exception, match="labels=.* is not allowed; allowed: 'my drawing' alone"):
        list(th.train("points", [DRAWING, "spiral"], 32, "tiny", 10, 2e-3, 0.2, 0))
    assert th.stages() == (th.stages()[0],) * 3  # no job: nothing to show, no crash

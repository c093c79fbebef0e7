"""What a visitor takes home and leaves behind: download names that say which run they are (and
never collide between runs), the default run's GIF within 1.5 MB, uploads removed when replaced."""
import os

import numpy as np
import pytest
from PIL import Image

from diffusion.app import media
from diffusion.app.engine import Engine
from diffusion.app.handlers import SamplingHandlers
from diffusion.app.train_handlers import TrainHandlers
from diffusion.worlds import get_world, world_names

h = SamplingHandlers(Engine())


def test_download_names_carry_the_run_and_differ_between_runs():
    base = dict(world="points", model="shipped", label="spiral", guidance=2.0, steps=20, sampler="ddim", eta=0.0,
                seed=3, n=100)
    stem = media.download_stem(h.request(**base))
    for part in ("points", "spiral", "s2", "ddim", "20steps", "seed3", "n100", "cfg"):
        assert part in stem.split("_") or part in stem.split("_")[3].split("-"), (part, stem)
    others = [dict(base, n=101), dict(base, eta=0.5), dict(base, method="rescale"), dict(base, method="rescale", params={"phi": 0.5}),
              dict(base, denoiser="exact reference")]
    stems = {stem} | {media.download_stem(h.request(**o)) for o in others}
    assert len(stems) == 1 + len(others)
    assert media.download_stem(h.request(**base)) == stem  # the same run: the same samples, the same name


@pytest.mark.parametrize("world", world_names())
def test_the_default_runs_gif_is_at_most_1_5_mb(world):
    w = get_world(world)
    req = h.request(world, "shipped", w.default_label, 2.0, w.sampling["steps"], w.sampling["sampler"], 0.0, 0,
                    w.sizes.default_n)
    gif = h.artifacts(h.engine.run(req))["gif"]
    size = os.path.getsize(gif)
    assert size <= 1_500_000, size
    with Image.open(gif) as im:
        assert im.n_frames >= 10  # still an animation


def test_a_gif_over_budget_drops_frames_and_keeps_its_length(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(24)]
    path = media.write_gif(frames, tmp_path / "noise.gif", fps=12, hold=1.0, max_bytes=150_000)
    assert path.stat().st_size <= 150_000
    with Image.open(path) as im:
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
    assert 2 <= len(durations) < 24
    assert sum(durations[:-1]) == pytest.approx(23 * 1000 / 12, rel=0.1)  # the same run time, fewer frames


def test_replaced_uploads_are_removed(tmp_path, monkeypatch):
    cache = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    first = [cache / "a1" / "config.json", cache / "a2" / "model.safetensors"]
    second = [cache / "b1" / "ck.zip"]
    outside = tmp_path / "mine.json"
    for p in first + second + [outside]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("{}")
    th = TrainHandlers(h.engine, None)
    kept = th.replace_upload([str(p) for p in first], [])
    assert kept == [str(p) for p in first] and all(p.exists() for p in first)
    kept = th.replace_upload([str(p) for p in second], kept + [str(outside)])
    assert not any(p.exists() for p in first) and not (cache / "a1").exists()  # files and their folders
    assert second[0].exists() and outside.exists()  # never a file outside Gradio's upload folder
    assert th.replace_upload(None, kept) == [] and not second[0].exists()  # cleared: removed too


def test_the_api_writes_only_what_it_returns_and_the_player_adds_the_animations():
    args = ("points", "moons", 2.0, 10, "ddim", 41, 50)
    png, npy = h.api_sample(*args)
    res = h.engine.cached(h.request("points", "shipped", "moons", 2.0, 10, "ddim", 0.0, 41, 50))
    assert sorted(res.artifacts) == ["npy", "png"] and (png, npy) == (res.artifacts["png"], res.artifacts["npy"])
    files = h.artifacts(res)  # what the tab's player asks of the same result
    assert sorted(files) == ["gif", "mp4", "npy", "png"] and files["png"] == png
    assert all(os.path.isfile(p) for p in files.values())
    with Image.open(files["gif"]) as im:
        assert im.n_frames == 11  # every frame of a 10-step run

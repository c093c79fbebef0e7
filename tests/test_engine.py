"""The engine behind the app: validation, streaming, the LRU cache, the direction field, the
guidance comparison and the media writers (on the shipped 2D checkpoint, which is small)."""
import gc
import re
import time
from pathlib import Path

import numpy as np
import pytest

from diffusion.app import compare as compare_mod
from diffusion.app import media, player
from diffusion.app.engine import Engine, Progress, Result
from diffusion.app.memory import own_pages
from diffusion.core.field import direction_field
from diffusion.drawing import pictures
from diffusion.inputs import check_guidances
from diffusion.worlds import get_world


@pytest.fixture(scope="module")
def engine():
    return Engine(max_results=3)


def req(engine, **kw):
    args = dict(world="points", model="shipped", label="spiral", guidance=2.0, steps=20, sampler="ddpm",
                eta=0.0, seed=0, n=200)
    args.update(kw)
    return engine.request(**args)


@pytest.mark.parametrize("change, message", [
    (dict(n=0), "n=0 is not allowed; allowed: an integer in 1..10000"),
    (dict(n=10001), "an integer in 1..10000"),
    (dict(n=2.5), "n=2.5 is not allowed"),
    (dict(n="200"), "n='200' is not allowed"),
    (dict(steps=0), "steps=0 is not allowed; allowed: an integer in 1..1000"),
    (dict(steps=1001), "an integer in 1..1000"),
    (dict(guidance=21), "guidance=21 is not allowed; allowed: a number in 0..10"),
    (dict(guidance=-0.5), "a number in 0..10"),
    (dict(guidance="abc"), "guidance='abc' is not allowed"),
    (dict(guidance=float("nan")), "guidance=nan is not allowed"),
    (dict(seed=-1), "seed=-1 is not allowed"),
    (dict(seed=3.7), "seed=3.7 is not allowed"),
    (dict(label="circle"), "label='circle' is not allowed; allowed: spiral, s_curve, moons, random"),
    (dict(sampler="euler"), "sampler='euler' is not allowed; allowed: ddpm, ddim"),
    (dict(sampler="ddim", eta=1.5), "eta=1.5 is not allowed; allowed: a number in 0..1"),
    (dict(model="mine"), "model='mine' is not allowed; allowed: shipped"),
    (dict(world="audio"), "world='audio' is not allowed"),
])
def test_bad_requests_name_the_value_and_the_range(engine, change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        req(engine, **change)


def test_requests_are_normalised(engine):
    r = req(engine, label=" spiral ", sampler="DDPM", steps=20.0, n=200.0, eta=0.7)
    assert (r.label, r.sampler, r.steps, r.n, r.eta) == ("spiral", "ddpm", 20, 200, 0.0)  # eta only for DDIM
    assert req(engine, sampler="DDIM", eta=0.5).eta == 0.5


def test_stream_yields_frames_then_a_cached_result(engine):
    r = req(engine, seed=11)
    items = list(engine.stream(r, every=0.0))
    progress, result = items[:-1], items[-1]
    assert [p.index for p in progress] == list(range(20))  # every frame but the final one
    assert all(isinstance(p, Progress) and p.total == 21 for p in progress)
    assert isinstance(result, Result) and result.xs.shape == (21, 200, 2) and result.samples.shape == (200, 2)
    assert np.array_equal(result.xs[-1], result.samples)
    np.testing.assert_array_equal(progress[5].x, result.xs[5])
    hits, misses = engine.hits, engine.misses
    again = list(engine.stream(r))
    assert again == [result] and (engine.hits, engine.misses) == (hits + 1, misses)  # a hit: no sampling at all
    assert engine.cached(r) is result


def test_the_cache_is_bounded_and_recomputes_bit_identically(engine):
    first = engine.run(req(engine, seed=1))
    for s in (2, 3, 4):
        engine.run(req(engine, seed=s))
    assert engine.cached(req(engine, seed=1)) is None  # evicted: 3 results at most
    again = engine.run(req(engine, seed=1))
    assert again is not first and np.array_equal(again.xs, first.xs) and np.array_equal(again.x0s, first.x0s)


def mapping_at(address: int) -> bool:
    """Whether a memory mapping of this process starts at `address`."""
    with open("/proc/self/maps") as f:
        return any(int(line.split("-")[0], 16) == address for line in f)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc")
def test_a_cached_results_frames_live_in_pages_of_their_own_and_go_back_whole(engine):
    """They outlive their run, whose working memory surrounds them in malloc's heap: there they
    would pin it (`memory.own_pages`)."""
    res = engine.run(req(engine, seed=31))
    assert mapping_at(res.xs.ctypes.data) and mapping_at(res.x0s.ctypes.data)
    frames = own_pages((3, 64, 28, 28), np.uint8)
    assert frames.shape == (3, 64, 28, 28) and frames.flags.writeable and not frames.any()
    address = frames.ctypes.data
    assert mapping_at(address)
    del frames
    gc.collect()
    assert not mapping_at(address)


def test_the_player_frames_kept_with_a_result_count_in_its_bytes(engine):
    res = engine.run(req(engine, seed=21))
    arrays = res.xs.nbytes + res.x0s.nbytes + res.samples.nbytes
    urls = player.frames(res)  # drawn once, kept in res.views
    assert res.nbytes == arrays + sum(len(u) for _, u in urls) > arrays


def test_direction_field_mixes_like_guidance(engine):
    ck = engine.models.get("points").checkpoint
    f0 = direction_field(ck.model, ck.diffusion, 0, 3, 0.0, 500, size=5)
    f1 = direction_field(ck.model, ck.diffusion, 0, 3, 1.0, 500, size=5)
    assert f0.points.shape == (25, 2) and f0.arrows["guided"].shape == (25, 2)
    np.testing.assert_allclose(f0.arrows["guided"], f0.arrows["unconditional"], atol=1e-6)
    np.testing.assert_allclose(f1.arrows["guided"], f1.arrows["conditional"], atol=1e-6)
    assert not np.allclose(f1.arrows["conditional"], f1.arrows["unconditional"], atol=1e-3)


def test_check_guidances():
    assert check_guidances("0, 1, 2.5;3") == [0.0, 1.0, 2.5, 3.0]
    for bad, msg in (("", "guidances='' is not allowed; allowed: 1..8"), ("1, x", "guidance='x' is not allowed"),
                     ("1, 30", "guidance=30 is not allowed; allowed: a number in 0..10"),
                     (",".join("1" * 9), "allowed: 1..8 comma-separated")):
        with pytest.raises(ValueError, match=re.escape(msg)):
            check_guidances(bad)


def test_comparison_uses_the_same_noise_and_measures_each_scale(engine, monkeypatch):
    monkeypatch.setitem(get_world("points").compare, "steps", 30)
    c = compare_mod.compare(engine, "points", "moons", 5, "0, 3")
    assert c.guidances == [0.0, 3.0] and len(c.results) == 2 and len(c.table()) == 2
    assert np.array_equal(c.results[0].xs[0], c.results[1].xs[0])  # the same x_T at every scale
    assert not np.array_equal(c.results[0].samples, c.results[1].samples)
    # guidance pulls samples onto the requested pattern: s = 3 lies closer to the moons than s = 0
    assert c.metrics[1]["distance"] < c.metrics[0]["distance"]


def test_media_frames_gif_and_mp4(engine, tmp_path):
    import av
    from PIL import Image
    res = engine.run(req(engine, seed=7))
    img = media.frame_image("points", res.xs[3], res.x0s[3], 3, len(res.xs), res.timesteps[3])
    assert img.dtype == np.uint8 and img.shape == (pictures.PANEL + pictures.HEADER, 2 * pictures.PANEL + 8, 3)
    assert media.animation_indices(1001)[:2] == [0, 17] and media.animation_indices(1001)[-1] == 1000
    assert len(media.animation_indices(1001)) == media.MAX_ANIMATION_FRAMES
    paths = media.export(res, tmp_path)
    assert np.array_equal(np.load(paths["npy"]), res.samples)
    assert Image.open(paths["gif"]).n_frames == len(res.xs)  # 21 frames: all kept
    with av.open(str(paths["mp4"])) as v:
        frames = sum(1 for _ in v.decode(video=0))
    assert frames >= len(res.xs)  # the final frame is held a little longer
    digits = pictures.digits_panel(np.zeros((4, 28, 28), np.uint8), 2)
    assert digits.shape == ((2 * 30 + 2) * 2, (2 * 30 + 2) * 2, 3)


def test_a_stream_resumed_on_other_threads_still_samples_the_same(engine):
    """Gradio may run each step of a streaming handler on a different worker thread."""
    from concurrent.futures import ThreadPoolExecutor
    r = req(engine, seed=21, steps=8)
    expected = engine.run(r)
    engine._cache.clear()
    stream = engine.stream(r, every=0.0)
    items = []
    for k in range(20):
        with ThreadPoolExecutor(1) as pool:  # a fresh thread for every step
            item = pool.submit(next, stream, None).result()
        if item is None:
            break
        items.append(item)
    assert np.array_equal(items[-1].xs, expected.xs) and np.array_equal(items[-1].samples, expected.samples)


def test_a_request_in_flight_is_computed_once():
    """The warm-up and a first visitor often ask for the same example: the second one waits for
    the first run and gets its result, instead of sampling it again beside it."""
    import threading
    engine = Engine()
    r = req(engine, seed=31, steps=30)
    first = engine.stream(r, every=0.0)
    assert isinstance(next(first), Progress)  # the first run is under way (and suspended here)
    got = []
    waiter = threading.Thread(target=lambda: got.append(engine.run(r)))
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive() and not got  # waiting, not sampling
    result = [item for item in first][-1]
    waiter.join(10)
    assert got == [result] and (engine.misses, engine.hits) == (1, 1)


def test_background_runs_give_way_to_a_visitors_run(monkeypatch):
    import threading
    engine = Engine()
    visitor = engine.stream(req(engine, seed=41, steps=30), every=0.0)
    next(visitor)  # a visitor's run is computing
    steps = []
    frames = engine.models.get("points").frames

    def counted(*args):  # count the background run's steps as they are computed
        for f in frames(*args):
            steps.append(f.index)
            yield f

    monkeypatch.setattr(engine.models.get("points"), "frames", counted)
    background = threading.Thread(target=engine.run, args=(req(engine, seed=42, steps=30),), kwargs={"background": True})
    background.start()
    time.sleep(0.5)
    assert steps == []  # paused while the visitor's run is open
    monkeypatch.undo()
    list(visitor)  # the visitor's run ends ...
    background.join(20)
    assert not background.is_alive() and len(steps) == 31  # ... and the background run completes


def test_a_visitor_takes_over_a_request_that_only_the_warm_up_is_computing(monkeypatch):
    """The visitor's run streams at once, never waiting for the paused warm-up's run (which would
    hold it for WAIT_LIMIT); the background run then finds the visitor's result cached."""
    import threading
    from diffusion.app import engine as engine_mod
    engine = Engine()
    r = req(engine, seed=51, steps=30)
    background = engine.stream(r, every=0.0, background=True)
    assert isinstance(next(background), Progress)  # the warm-up has started this request
    with monkeypatch.context() as m:
        m.setattr(engine_mod._Run, "wait", lambda self, timeout=None: pytest.fail("the visitor waited"))
        visitor = engine.stream(r, every=0.0)
        assert isinstance(next(visitor), Progress)
        result = list(visitor)[-1]
    rest = []
    finisher = threading.Thread(target=lambda: rest.extend(background))
    finisher.start()
    finisher.join(10)
    assert rest == [result]  # the background run stopped and returned the visitor's result

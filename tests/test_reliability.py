"""The app as anonymous visitors meet it over HTTP (issue 19): hostile values at every event,
cache hits while a miss computes, sessions kept apart, upload limits, and a short mixed load.
The long version, with its numbers, is `make soak` (`diffusion.soak`)."""
import re
import threading
import time
from pathlib import Path

import pytest

from diffusion.app.hostile import defaults, fuzz, inputs_of
from diffusion.app.http_calls import Session, file_data
from diffusion.app.train_handlers import MAX_UPLOAD
from diffusion.soak import HOT, checkpoint_zip, load


@pytest.fixture(scope="module")
def url(app_url):
    return app_url


def test_every_hostile_value_at_every_event_is_a_field_named_refusal(url, capfd):
    answers = fuzz(Session(url), per_input=1)
    events = {a.event for a, _ in answers}
    assert {"sample_points", "compare_guidance", "generate_mnist", "compare_ui", "train", "field_at",
            "load_example", "use_upload"} <= events
    assert [p for _, p in answers if p] == []
    refused = [a for a, _ in answers if not a.ok]
    assert len(refused) > 0.8 * len(answers)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "9" * 200 not in err  # one line per refusal, the value cut


def test_a_cache_hit_is_answered_while_a_miss_computes(url):
    s = Session(url)
    assert s.call(*HOT[1])[0]  # now cached
    miss = threading.Thread(target=Session(url).call, args=("sample_digits", ["3", 2, 100, "ddpm", 99, 16] +
                                                             HOT[1][1][6:]))
    miss.start()
    time.sleep(1.0)
    ok, _, _ = s.call(*HOT[1])
    assert ok and miss.is_alive()  # the hit did not wait for the miss (nor for its queue slot)
    miss.join()


def registered(reply) -> str:
    return re.search(r"Registered as \*\*(.+?)\*\*", str(reply)).group(1)


def upload(s: Session, files: dict) -> str:
    status, paths = s.upload(files)
    assert status == 200, paths
    return paths[0]


def test_sessions_cannot_touch_each_others_uploads_or_jobs(url):
    import app
    a, b = Session(url), Session(url)
    ok, reply, _ = a.call("use_upload", [[file_data(upload(a, {"points.zip": checkpoint_zip()}))]])
    assert ok, reply
    first = registered(reply)
    ok, reply, _ = a.call("use_upload", [[file_data(upload(a, {"points.zip": checkpoint_zip()}))]])
    second = registered(reply)
    assert first != second  # unique names, even within one second
    assert first in str(a.call("model_choices", ["points"])[1])
    assert first not in str(b.call("model_choices", ["points"])[1])
    args = defaults(inputs_of(b, "generate_points"))
    args[0], args[7] = first, 10  # model, n
    ok, reply, _ = b.call("generate_points", args)
    assert not ok and f"model={first!r} is not allowed; allowed: shipped" in reply
    assert a.call("generate_points", args)[0]

    trainer = Session(url)  # its own session: its stream is busy with the training's updates
    train = ["points", ["spiral"], 32, "tiny", 60, 2e-3, 0.2, 0]
    done = threading.Thread(target=trainer.call, args=("train", train), kwargs={"timeout": 120})
    done.start()
    jobs = app.demo.train_handlers.jobs
    for _ in range(300):
        if jobs.current() is not None and jobs.current().running:
            break
        time.sleep(0.1)
    assert b.run("stop", [])[1] == ["No training job of yours is running."]
    assert jobs.current().running
    assert "Stopping" in str(Session(url, session_hash=trainer.hash).run("stop", [])[1])
    assert jobs.current().wait(60).state == "stopped"
    done.join()

    assert a.call("forget", [])[0]  # what closing the tab does
    assert first not in str(a.call("model_choices", ["points"])[1])
    assert not app.demo.handlers.engine.models.names("points", owner=a.hash)[1:]


def test_uploads_over_the_limit_or_rejected_leave_nothing_behind(url):
    from gradio.utils import get_upload_folder

    def big_files():
        return {p for p in Path(get_upload_folder()).rglob("*") if p.is_file() and p.stat().st_size > 1 << 20}
    s, before = Session(url), big_files()
    status, reply = s.upload({"big.zip": b"\0" * (MAX_UPLOAD + 1)})
    assert status == 413 and "exceeded maximum allowed size" in reply
    assert big_files() <= before  # refused while it arrived: nothing kept
    path = upload(s, {"model.pt": b"not a checkpoint"})
    ok, reply, _ = s.call("use_upload", [[file_data(path)]])
    assert not ok and reply.startswith("refusing 'model.pt': pickle-based files can run code")
    assert not Path(path).exists()


def test_a_few_clients_for_a_while_get_no_errors(url):
    res = load(url, clients=3, seconds=15)
    assert res.errors == [] and res.hits and res.misses


def test_a_run_stops_when_its_reader_goes_away():
    """What Gradio does when a client leaves: it closes the handler's generator. The run stops
    there (nothing cached) and gives its slot back, so the next run computes."""
    from diffusion.app.engine import Engine
    engine = Engine(runs=1)
    req = engine.request("points", "shipped", "spiral", 2.0, 200, "ddpm", 0.0, 5, 100)
    run = engine.stream(req, every=0.0)
    next(run), next(run)
    run.close()
    assert engine.cached(req) is None and not engine._inflight
    other = engine.request("points", "shipped", "spiral", 2.0, 5, "ddpm", 0.0, 5, 100)
    assert engine.run(other).samples.shape == (100, 2)


def test_a_session_keeps_no_copy_of_the_page_yet_deep_links_see_all_of_it(url):
    """`LeanSessionState`: a session holds the config of the blocks it changed, not of all 249,
    and a deep link (the one reader of those configs) still gets every block, as upstream's."""
    import json

    import app
    from gradio.utils import get_upload_folder

    from diffusion.app.sessions import LeanSessionState
    s = Session(url)
    assert s.call(*HOT[0])[0]
    state = app.demo.state_holder.session_data[s.hash]
    assert isinstance(state, LeanSessionState) and len(state.config_values) < 20
    link = s.http.get(url + "gradio_api/deep_link", params={"session_hash": s.hash}).text.strip('"')
    linked = json.loads((Path(get_upload_folder()) / "deep_links" / link / "state.json").read_text())
    upstream = LeanSessionState.__bases__[0](app.demo)  # Gradio's own, all configs made up front
    assert {c["id"] for c in linked} == {c["id"] for c in upstream.components}

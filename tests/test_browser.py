"""In a real browser: Playwright drives Debian's Chromium (Playwright cannot download its own here),
at 1400 px and at 400 px wide. With no click, every tab shows a result (the default runs playing,
the default comparison, the shipped model's loss curve), at 400 px within 900 px of the page's
top; every tab is in sight; the player plays and pauses in the browser, and where it stops the
direction field follows; a new run replaces the old one on screen and the scrubber spans the new
run; a comparison of two methods draws its plot.

Screenshots and a short animation go to the test's temp folder, and to docs/ (the README's
pictures) where they are missing or with UPDATE_SCREENSHOTS=1. A missing Chromium fails the test:
`make test` installs it with apt-get.
"""
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from playwright import sync_api

from diffusion.app.media import animation_indices
from diffusion.app.player import PLAYER_FRAMES
from diffusion.worlds.points import POINTS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
# Without the background-networking flags Chromium keeps dialling Google on this closed network.
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIRST_SCREEN = 900  # px: at 400 px wide, the first result's top is within this of the page's top
LOAD = 600_000  # ms: the first page load computes the default runs and comparison on a busy CPU
SHOWN = ".gde-player:not(.gde-live) img.gde-f.on"  # the frame a finished run's player shows


@pytest.fixture(scope="module")
def site(app_url):
    """(Chromium, the app's URL) for the tests of this module."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (make test installs it: apt-get install chromium)"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser, app_url
        browser.close()


def keep(src: Path, name: str) -> None:
    """The README's pictures: written where missing, replaced with UPDATE_SCREENSHOTS=1."""
    dest = ROOT / "docs" / name
    if not dest.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1":
        dest.parent.mkdir(exist_ok=True)
        shutil.copyfile(src, dest)


def small_png(page, path: Path, **kwargs) -> Path:
    """A screenshot as a palette PNG (the README's pictures stay well under 300 KB)."""
    page.screenshot(path=str(path), **kwargs)
    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)
    return path


def first_screen(page, selector: str, width: int) -> None:
    """At 400 px the tab's first result starts within FIRST_SCREEN px of the page's top."""
    top = page.evaluate("s => document.querySelector(s).getBoundingClientRect().top + window.scrollY", selector)
    if width == 400:
        assert top <= FIRST_SCREEN, f"{selector} starts {top:.0f} px down at 400 px"


def settle(page, world: str) -> None:
    """For a picture: the run's files are written and the player stops at a step mid-run."""
    page.locator(f"#final-{world} img").wait_for(timeout=LOAD)
    scrub = page.locator(f"#player-{world} .gde-scrub")
    scrub.fill(str(round(0.6 * int(scrub.get_attribute("max")))))  # 60% of the way, whatever the run's steps


def player(page, world: str):
    return page.locator(f"#player-{world} .gde-player")


def shown_step(page, world: str) -> str:
    return page.locator(f"#player-{world} .gde-pos").inner_text()


def open_page(site, width: int):
    browser, url = site
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_text("Guided Diffusion Explorer").first.wait_for()
    return page


@pytest.mark.parametrize("width", [1400, 400])
def test_every_tab_shows_a_result_at_load(site, width, tmp_path):
    page = open_page(site, width)
    for tab in ("2D points", "MNIST digits", "Guidance comparison", "Train"):
        # Gradio lays the tab row out after measuring it: wait for that, not for the first paint
        sync_api.expect(page.get_by_role("tab", name=tab), f"tab {tab!r} is hidden at {width} px").to_be_visible(timeout=30_000)
    # 2D points is the first tab: its default run plays without a click
    page.locator(f"#player-points {SHOWN}").wait_for(timeout=LOAD)
    assert page.locator("#player-points .gde-play").inner_text() == "pause"  # playing on its own
    first_screen(page, "#player-points .gde-frames", width)
    settle(page, "points")
    keep(small_png(page, tmp_path / f"points_{width}.png"), f"points_{width}.png")

    page.get_by_role("tab", name="MNIST digits").click()
    page.locator(f"#player-mnist {SHOWN}").wait_for(timeout=LOAD)
    first_screen(page, "#player-mnist .gde-frames", width)
    if width == 1400:
        settle(page, "mnist")
        keep(small_png(page, tmp_path / "mnist.png"), "mnist.png")

    page.get_by_role("tab", name="Guidance comparison").click()
    page.locator("#compare-plot img").wait_for(timeout=LOAD)  # the default comparison's frontier plot
    page.locator("#compare-grid img").wait_for(timeout=10_000)
    page.get_by_text("6 of 6 done").wait_for(timeout=10_000)
    first_screen(page, "#compare-grid img", width)
    assert page.locator("#compare-table [role=gridcell]").count() >= 6  # a measured row per scale
    if width == 1400:
        keep(small_png(page, tmp_path / "compare.png", full_page=True), "compare.png")

    page.get_by_role("tab", name="Train").click()
    page.locator("#train-loss img").wait_for(timeout=LOAD)  # the shipped model's loss curve
    first_screen(page, "#train-loss img", width)
    page.close()


@pytest.mark.parametrize("width", [1400, 400])
def test_player_plays_and_a_new_run_replaces_the_old(site, width, tmp_path):
    page = open_page(site, width)
    page.locator(f"#player-points {SHOWN}").wait_for(timeout=LOAD)
    play = page.locator("#player-points .gde-play")
    if play.inner_text() == "pause":  # the default run is playing: stop it
        play.click()
    paused = shown_step(page, "points")
    page.wait_for_timeout(600)
    assert shown_step(page, "points") == paused  # paused: the frame stays
    play.click()
    page.wait_for_function(
        "s => document.querySelector('#player-points .gde-pos').textContent !== s", arg=paused, timeout=5_000)
    play.click()
    if width == 1400:
        animate(page, tmp_path)
        # Stopped at a step, the player moves the direction field there (its one server call)
        page.locator("#field-points img").wait_for(timeout=60_000)
        field = page.locator("#field-points img").get_attribute("src")
        page.locator("#player-points .gde-scrub").fill("10")
        S = POINTS.sampling["steps"]  # the default run; frame 10 of it is this step:
        step = animation_indices(S + 1, PLAYER_FRAMES)[10]
        assert shown_step(page, "points").startswith(f"step {step} of {S}")
        page.wait_for_function("s => document.querySelector('#scrub-points input[type=number]').value === s",
                               arg=str(step), timeout=10_000)
        page.wait_for_function("f => document.querySelector('#field-points img').src !== f", arg=field,
                               timeout=60_000)

    old_run = player(page, "points").get_attribute("data-run")
    steps = page.locator("#steps-points input[type=number]")
    new = 30 if POINTS.sampling["steps"] != 30 else 20  # a run that differs from the default one
    caption = f"{new} {POINTS.sampling['sampler'].upper()} steps"
    steps.fill(str(new))
    steps.press("Enter")
    page.locator("#generate-points").click()
    # At once the player belongs to the new run: its header names it, its scrubber spans its steps
    page.wait_for_function(
        "r => { const p = document.querySelector('#player-points .gde-player'); return p && p.dataset.run !== r; }",
        arg=old_run, timeout=60_000)
    assert caption in player(page, "points").locator(".gde-head").inner_text()
    assert page.locator("#player-points .gde-scrub").get_attribute("max") == str(new)
    page.locator(f"#player-points {SHOWN}").wait_for(timeout=120_000)
    assert page.locator("#player-points .gde-scrub").get_attribute("max") == str(new)  # every frame sent
    assert caption in page.locator("#status-points").inner_text()
    page.close()


def animate(page, tmp_path: Path) -> None:
    """A short animation of the player for the README: a few steps of the default run."""
    scrub = page.locator("#player-points .gde-scrub")
    last = int(scrub.get_attribute("max"))
    frames = []
    for k in range(0, last + 1, max(1, last // 10)):
        scrub.fill(str(k))
        shot = tmp_path / f"step{k}.png"
        page.locator("#player-points .gde-frames").screenshot(path=str(shot))
        frames.append(Image.open(shot).convert("RGB").resize((480, 252)).quantize(32))
    anim = tmp_path / "player.png"  # an animated PNG: docs/*.png are what the Space is sent
    frames[0].save(anim, save_all=True, append_images=frames[1:], duration=300, loop=0)
    assert Image.open(anim).n_frames == len(frames) and anim.stat().st_size < 300_000
    keep(anim, "player.png")


def test_comparison_of_two_methods_draws_its_plot(site):
    page = open_page(site, 1400)
    page.get_by_role("tab", name="Guidance comparison").click()
    page.locator("#compare-plot img").wait_for(timeout=LOAD)  # the default comparison first
    page.get_by_role("radio", name="points").check()
    methods = page.locator("#compare-methods input")
    methods.click()
    page.get_by_role("option", name="interval").click()
    page.keyboard.press("Escape")
    page.get_by_label("guidance scales (comma-separated)").fill("0, 3")
    page.locator("#compare").click()
    page.get_by_text("4 of 4 done").wait_for(timeout=240_000)
    page.locator("#compare-plot img").wait_for(timeout=60_000)
    page.get_by_text("Each curve is one guidance method").wait_for(timeout=10_000)
    first_column = page.locator("#compare-table [role=gridcell][data-col='0']")
    assert [c.strip() for c in first_column.all_inner_texts()] == ["cfg", "cfg", "interval", "interval"]
    page.close()


def test_a_typed_value_out_of_range_stays_and_is_refused_by_name(site):
    page = open_page(site, 1400)
    page.locator(f"#player-points {SHOWN}").wait_for(timeout=LOAD)  # the default run is done
    box = page.get_by_label("number input for sampling steps").first
    box.fill("5000")
    box.press("Tab")  # the blur on which Gradio's slider would clamp 5000 to 1000
    sync_api.expect(box).to_have_value("5000")
    sync_api.expect(box).to_contain_class("gde-out")
    page.locator("#generate-points").click()
    page.get_by_text("steps=5000 is not allowed").wait_for(timeout=60_000)
    page.close()


# Two strokes in [-1, 1] coordinates (the canvas's corners are (-1, -1) and (1, 1)), one per brush colour
ARC = [[(-0.7, 0.5), (0.0, 0.75), (0.7, 0.5)]]
LINE = [[(-0.7, -0.5), (0.7, -0.2)]]


def draw_strokes(page, strokes_per_colour) -> None:
    """Mouse drags on the canvas, brush colour k for the k-th list of polylines. The canvas shows
    its 400 px picture at the zoom it states, centred in the drawing area."""
    from diffusion.app.draw_ui import CANVAS
    area = page.locator("#draw-canvas canvas").first
    area.scroll_into_view_if_needed()
    page.click("#draw-canvas button[aria-label='Brush']")
    zoom = float(page.locator("#draw-canvas .zoom-number span").inner_text().strip("% ")) / 100
    bb = area.bounding_box()
    cx, cy, half = bb["x"] + bb["width"] / 2, bb["y"] + bb["height"] / 2, CANVAS / 2 * zoom
    for k, strokes in enumerate(strokes_per_colour):
        page.click("#draw-canvas button[aria-label='Color']")
        page.locator("#draw-canvas menu.swatch button.color").nth(k).click()
        for line in strokes:
            pts = [(cx + x * half, cy - y * half) for x, y in line]
            page.mouse.move(*pts[0])
            page.mouse.down()
            for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                for u in [i / 12 for i in range(1, 13)]:
                    page.mouse.move(x0 + u * (x1 - x0), y0 + u * (y1 - y0))
            page.mouse.up()


def run_samples(page, label: str, guidance: float):
    """Generate on the 2D tab at this guidance; the run's samples, fetched from its .npy download."""
    import io

    import numpy as np
    page.locator("#generate-points").scroll_into_view_if_needed()
    page.locator(".gde-quick").first.get_by_role("button", name=f"{guidance:g}", exact=True).click()
    page.locator("#generate-points").click()
    page.get_by_text(f"label {label}, s = {guidance:g}").first.wait_for(timeout=60_000)
    link = page.locator(f"a[href*='points_{label}_s{guidance:g}_'][href$='.npy']").first
    link.wait_for(timeout=120_000)
    return np.load(io.BytesIO(page.request.get(link.get_attribute("href")).body()))


def test_drawn_classes_become_the_model_and_its_samples_lie_on_the_strokes(site, tmp_path):
    """Issue 20, acceptance 1: strokes in two colours -> a preview with two classes -> the exact
    denoiser of the drawn points samples within 0.02 (mean) of the strokes at guidance 0 and 3."""
    from diffusion.worlds.points_drawn import stroke_distance
    page = open_page(site, 1400)
    page.locator(f"#player-points {SHOWN}").wait_for(timeout=LOAD)
    page.click("#draw-panel button.label-wrap")
    draw_strokes(page, [ARC, LINE])
    page.get_by_label("class 1 (#d62728)").fill("arc")
    page.get_by_label("class 2 (#1f77b4)").fill("line")
    page.click("#draw-use")
    status = page.locator("#draw-status")
    page.get_by_text("Its exact denoiser is now the 2D tab's model").wait_for(timeout=60_000)
    assert "arc" in status.inner_text() and "line" in status.inner_text()  # two classes, each counted
    page.locator("#draw-preview img").wait_for(timeout=10_000)
    for guidance in (0, 3):
        x = run_samples(page, "arc", guidance)
        d = stroke_distance(x, ARC + LINE)
        print(f"exact model of the drawing, guidance {guidance}: mean distance to the strokes {d:.4f}")
        assert x.shape == (POINTS.sizes.default_n, 2) and d <= 0.02
    assert stroke_distance(x, ARC) <= 0.02  # guided to the asked class: on its stroke
    page.locator("#draw-panel").scroll_into_view_if_needed()
    keep(small_png(page, tmp_path / "draw.png"), "draw.png")
    page.close()

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
    page.locator(f"#player-{world} .gde-scrub").fill("30")


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

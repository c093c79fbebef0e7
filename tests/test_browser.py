"""In a real browser: Playwright drives Debian's Chromium (Playwright cannot download its own here).
Load the page, generate in the MNIST tab (its default sampler and steps), move the step scrubber, take a screenshot, compare three
guidance scales, switch tabs.

The screenshot goes to the test's temp folder; with UPDATE_SCREENSHOT=1 it also replaces
docs/screenshot.png (the README's picture). Skipped where Chromium is not installed
(`make test` installs it with apt-get).
"""
import os
import shutil
from pathlib import Path

import pytest

from diffusion.worlds.mnist import MNIST

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
ROOT = Path(__file__).resolve().parent.parent
# Without the background-networking flags Chromium keeps dialling Google on this closed network.
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def src(page, selector: str) -> str | None:
    img = page.locator(f"{selector} img")
    return img.first.get_attribute("src") if img.count() else None


def test_generate_scrub_and_switch_tabs(app_url, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1500})
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_text("Guided Diffusion Explorer").first.wait_for()

        page.get_by_role("tab", name="MNIST digits").click()
        page.locator("#generate-mnist").click()
        page.locator("#final-mnist img").wait_for(timeout=180_000)  # the last output to arrive
        assert src(page, "#frame-mnist") is not None

        before = src(page, "#frame-mnist")
        box = page.locator("#scrub-mnist input[type=number]")
        box.fill(str(MNIST.sampling["steps"] // 2))  # mid-run of the default sampler's run
        box.press("Enter")
        page.wait_for_function(
            "b => { const i = document.querySelector('#frame-mnist img'); return i && i.src !== b; }",
            arg=before, timeout=60_000)

        shot = tmp_path / "screenshot.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        if os.environ.get("UPDATE_SCREENSHOT") == "1":
            (ROOT / "docs").mkdir(exist_ok=True)
            shutil.copyfile(shot, ROOT / "docs" / "screenshot.png")

        # The comparison: two methods x two scales on the 2D world, cell by cell, then the frontier plot.
        page.get_by_role("tab", name="Guidance comparison").click()
        page.locator("#compare").wait_for(state="visible")
        page.get_by_role("radio", name="points").check()
        page.locator("#compare-methods").get_by_label("interval").check()
        scales = page.get_by_label("guidance scales (comma-separated)")
        scales.fill("0, 3")
        page.locator("#compare").click()
        page.locator("#compare-grid img").wait_for(timeout=120_000)
        page.get_by_text("4 of 4 done").wait_for(timeout=240_000)
        page.locator("#compare-plot img").wait_for(timeout=60_000)  # the frontier plot
        assert src(page, "#compare-plot") is not None
        page.get_by_text("Each curve is one guidance method").wait_for(timeout=10_000)
        first_column = page.locator("#compare-table [role=gridcell][data-col='0']")
        assert [c.strip() for c in first_column.all_inner_texts()] == ["cfg", "cfg", "interval", "interval"]
        page.get_by_role("tab", name="2D points").click()
        page.locator("#generate-points").wait_for(state="visible")
        browser.close()

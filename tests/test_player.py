"""The run player's markup: the frames it sends, and a header that names the run."""
import base64
import io

import numpy as np
from PIL import Image

from diffusion.app import player
from diffusion.app.engine import Engine

engine = Engine()


def test_a_run_is_sent_as_at_most_player_frames_pictures_named_by_step():
    res = engine.run(engine.request("points", "shipped", "spiral", 2.0, 100, "ddim", 0.0, 0, 200))
    sent = player.frames(res)
    assert [i for i, _ in sent] == list(range(0, 101, 2)) and len(sent) == player.PLAYER_FRAMES
    pics = [np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
            for _, url in sent[:2]]
    assert pics[0].shape == pics[1].shape and not np.array_equal(*pics)  # two steps, two pictures
    assert player.frames(res) is sent  # drawn once per result

    html = player.player_html(7, res)
    assert html.count('<img class="gde-f') == 51 and html.count(" on\"") == 1  # the last step is shown first
    assert 'data-run="7"' in html and 'max="50"' in html and "Run 7: label spiral, s = 2, 100 DDIM steps" in html
    assert 'data-steps="0,2,4,' in html and ",100\"" in html


def test_a_new_run_has_no_picture_until_its_first_frame():
    req = engine.request("mnist", "shipped", "3", 1.5, 40, "ddpm", 0.0, 5, 4)
    start = player.starting_html(8, req)
    assert "<img" not in start and 'max="40"' in start and "seed 5, 4 digits" in start
    live = player.live_html(8, req, np.zeros((10, 20, 3), np.uint8), 12, 41, "sampling: step 12 of 40")
    assert live.count('<img class="gde-f') == 1 and 'value="12"' in live and "gde-live" in live

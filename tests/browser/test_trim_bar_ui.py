"""The player's trim bar in a real headless Chromium against the real `kalinsky serve`, in a phone-sized window:
filmstrip, waveform and keyframe markers appear, clicking and dragging seek to the right frame, marks snap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from server import http_json, running_server
from test_ui import PHONE, browser, expect_picture, no_sideways_scroll, open_source, shot, watch_errors

__all__ = ["browser"]  # the module's Chromium, shared with test_ui.py's fixture

# How many pixels of the waveform's canvas are drawn.
DRAWN_WAVE = """() => {
  const canvas = document.getElementById("scrub-wave");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let at = 3; at < pixels.length; at += 4) if (pixels[at] > 0) drawn += 1;
  return {drawn, width: canvas.width, total: canvas.width * canvas.height};
}"""


def bar_x(page: Page, frame: int, frames: int) -> float:
    """The x (from the bar's left edge) of the middle of `frame` on the trim bar."""
    width = page.locator("#scrub").bounding_box()["width"]
    return (frame + 0.5) / frames * width


def test_the_trim_bar_shows_the_source_and_seeks_where_it_is_clicked(
    browser: Browser, tmp_path: Path, sources_dir: Path
) -> None:
    with running_server(tmp_path) as base:
        page = browser.new_page(viewport=PHONE)
        errors = watch_errors(page)
        page.goto(base)
        expect(page.locator(".source-card")).to_have_count(2)
        sources = http_json("GET", f"{base}/api/v1/sources")[1]
        index = next(source["index"] for source in sources if source["filename"] == "a.mp4")
        status, timeline = http_json("GET", f"{base}/api/v1/sources/{index}/timeline")
        assert status == 200 and timeline["frame_count"] == 120

        open_source(page, "a.mp4")  # 4 s, 30 fps, with a tone
        film = page.locator("#scrub-film")
        expect(film).to_be_visible(timeout=20000)
        assert page.evaluate("document.getElementById('scrub-film').naturalWidth") == 20 * 214
        expect(page.locator("#scrub-keys .keyframe-mark")).to_have_count(len(timeline["keyframes"]))
        page.wait_for_function(f"({DRAWN_WAVE})().drawn > 0", timeout=20000)
        wave = page.evaluate(DRAWN_WAVE)
        assert wave["drawn"] > wave["total"] * 0.5, wave  # the steady tone fills the canvas, not a flat line
        lefts = page.evaluate("[...document.querySelectorAll('.keyframe-mark')].map((m) => m.style.left)")
        shares = [float(left.removesuffix("%")) / 100 for left in lefts]
        assert shares == pytest.approx([frame / 120 for frame in timeline["keyframes"]], abs=1e-4), lefts
        assert no_sideways_scroll(page)
        box = page.locator("#scrub").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 40

        # A click a known distance along the bar shows the frame there.
        scrub = page.locator("#scrub")
        scrub.click(position={"x": bar_x(page, 60, 120), "y": 10})
        expect(page.locator("#timecode")).to_have_text("00:00:02:00")
        expect_picture(page, 60)
        scrub.click(position={"x": bar_x(page, 97, 120), "y": 40})
        expect(page.locator("#timecode")).to_have_text("00:00:03:07")
        expect_picture(page, 97)

        # Dragging follows the pointer; where it is let go is the frame shown.
        scrub.scroll_into_view_if_needed()
        box = scrub.bounding_box()
        y = box["y"] + 20
        page.mouse.move(box["x"] + bar_x(page, 10, 120), y)
        page.mouse.down()
        page.mouse.move(box["x"] + bar_x(page, 25, 120), y, steps=5)
        page.mouse.move(box["x"] + bar_x(page, 45, 120), y, steps=5)
        page.mouse.up()
        expect(page.locator("#timecode")).to_have_text("00:00:01:15")
        expect_picture(page, 45)

        # The path note follows the marks; with snapping on, In lands on the nearest keyframe.
        note = page.locator("#path-note")
        expect(note).to_contain_text("estimate")
        expect(note).to_have_attribute("data-path", "copy")  # the whole source: keyframe 0 to its end
        page.check("#snap-keyframes")
        near = min(timeline["keyframes"], key=lambda frame: abs(frame - 45))
        page.focus("#player")
        page.keyboard.press("i")
        expect(page.locator("#in-point")).to_have_value(f"00:00:{near // 30:02d}:{near % 30:02d}")
        expect(note).to_have_attribute("data-path", "copy")
        page.uncheck("#snap-keyframes")
        scrub.click(position={"x": bar_x(page, near + 3, 120), "y": 10})
        page.focus("#player")
        page.keyboard.press("i")
        expect(note).to_have_attribute("data-path", "smart")
        shot(page, "10-trim-bar-phone", full_page=False)

        # A source without sound: a flat line for a waveform, the filmstrip and markers still there.
        b_index = next(source["index"] for source in sources if source["filename"] == "b.mov")
        b_keyframes = http_json("GET", f"{base}/api/v1/sources/{b_index}/timeline")[1]["keyframes"]
        open_source(page, "b.mov")
        expect(film).to_have_attribute("src", re.compile(rf"/sources/{b_index}/filmstrip"))
        expect(film).to_be_visible(timeout=20000)
        expect(page.locator("#scrub-keys .keyframe-mark")).to_have_count(len(b_keyframes))
        flat = page.evaluate(DRAWN_WAVE)
        assert 0 < flat["drawn"] <= 2 * flat["width"], flat
        assert errors == []

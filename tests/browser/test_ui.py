"""The web UI in a real headless Chromium against the real `kalinsky serve`: index, mark, assemble, render, play.

Screenshots of each main screen go to test-artifacts/browser/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from media import make_video
from playwright.sync_api import Browser, Dialog, Page, Route, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from server import http_json, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# The frame number a frame-coded test source shows (see tests/media.py), read from the player's picture.
SHOWN_FRAME = """() => {
  const video = document.getElementById("player");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const row = Math.floor(canvas.height * 0.75);
  const pixels = context.getImageData(0, row, canvas.width, 1).data;
  let frame = 0;
  for (let bit = 0; bit < 10; bit += 1) {
    const x = Math.floor(((bit + 0.5) * canvas.width) / 10);
    if (pixels[x * 4] > 127) frame += 1 << bit;
  }
  return frame;
}"""


# Every value the renders' progress bars show, in order, from now on.
RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  const record = () => {
    for (const bar of document.querySelectorAll("#render-list [role=progressbar]")) {
      window.progressSeen.push(Number(bar.getAttribute("aria-valuenow")));
    }
  };
  new MutationObserver(record).observe(document.getElementById("render-list"), {
    subtree: true, childList: true, attributes: true, attributeFilter: ["aria-valuenow"],
  });
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).is_file(), "the browser tests need Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def library(sources_dir: Path) -> Path:
    """The shared test sources plus a vertical (9:16) phone-style clip at 29.97 fps."""
    make_video(sources_dir / "vertical.mp4", duration=2.0, size="270x480", fps="30000/1001", offset=200)
    return sources_dir


def shot(page: Page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if full_page:  # from the top, so the sticky bar and sources column sit where a person sees them
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def watch_errors(page: Page) -> list[str]:
    """Script errors on the page (failed requests are the server's business and are checked where expected)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def open_source(page: Page, filename: str) -> None:
    page.locator(".source-card", has_text=filename).click()
    expect(page.locator("#viewer-source")).to_contain_text(filename)
    page.wait_for_function("() => document.getElementById('player').readyState >= 2")


def expect_picture(page: Page, frame: int) -> None:
    """The player comes to show source frame `frame` (a seek takes a moment to reach the screen)."""
    try:
        page.wait_for_function(
            f"(frame) => !document.getElementById('player').seeking && ({SHOWN_FRAME})() === frame",
            arg=frame, polling=50, timeout=5000,
        )
    except PlaywrightTimeoutError:
        raise AssertionError(f"the player shows frame {page.evaluate(SHOWN_FRAME)}, not {frame}") from None


def no_sideways_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_index_mark_assemble_render_and_play(browser: Browser, tmp_path: Path, library: Path) -> None:
    with running_server(tmp_path, env={"KALINSKY_AUTO_REINDEX": "false"}) as base:
        page = browser.new_page(viewport=LAPTOP)
        errors = watch_errors(page)
        page.goto(base)

        # A first visit, before any index: guidance with a way forward, not the server's error.
        state = page.locator("#library-state")
        expect(state).to_contain_text("No index yet")
        expect(page.locator("body")).not_to_contain_text("409")
        expect(page.locator("body")).not_to_contain_text("status_code")
        shot(page, "01-first-visit")

        state.get_by_role("button", name="Scan the sources folder").click()
        expect(page.locator(".source-card")).to_have_count(3)
        report = page.locator("#reindex-report")
        expect(report).to_contain_text("Found 3 videos, skipped 1")
        expect(report).to_contain_text("broken.mp4")
        expect(report).not_to_contain_text("file:")  # the reason without the server's path
        expect(page.locator(".source-card", has_text="a.mp4")).to_contain_text("320×240")
        expect(page.locator(".source-card", has_text="vertical.mp4")).to_contain_text("29.97 fps")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.source-card img')]"
            ".every((img) => img.complete && img.naturalWidth > 0)"
        )
        shot(page, "02-library")

        # a.mp4, 30 fps: step with the arrow keys, mark with I and O; the picture shows exactly that frame.
        open_source(page, "a.mp4")
        timecode = page.locator("#timecode")
        page.focus("#player")  # the shortcuts win over the video element's own five-second arrow seeking
        page.keyboard.press("ArrowRight")
        expect(timecode).to_have_text("00:00:00:01")
        expect_picture(page, 1)
        page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("ArrowLeft")
        expect(timecode).to_have_text("00:00:01:00")
        expect_picture(page, 30)
        page.keyboard.press("i")
        expect(page.locator("#in-point")).to_have_value("00:00:01:00")
        for _ in range(29):
            page.keyboard.press("ArrowRight")
        expect(timecode).to_have_text("00:00:01:29")
        expect_picture(page, 59)
        page.keyboard.press("o")
        expect(page.locator("#out-point")).to_have_value("00:00:01:29")
        expect(page.locator("#clip-duration")).to_have_text("1.00 s")
        expect(page.locator("#clip-frames")).to_have_text("30 frames")
        shot(page, "03-player")
        page.get_by_role("button", name="Add to assembly").click()

        # b.mov, 25 fps: marks typed as seconds and as a timecode.
        open_source(page, "b.mov")
        page.fill("#in-point", "0.4")
        page.press("#in-point", "Enter")
        expect(page.locator("#in-point")).to_have_value("00:00:00:10")
        page.fill("#out-point", "00:00:01:04")
        page.press("#out-point", "Enter")
        page.get_by_role("button", name="Go to Out").click()
        expect_picture(page, 500 + 29)
        expect(page.locator("#clip-frames")).to_have_text("20 frames")
        page.get_by_role("button", name="Add to assembly").click()

        # The vertical source as a third clip, whose file then disappears: the server's 422 lands on clip 3.
        open_source(page, "vertical.mp4")
        page.get_by_role("button", name="Add to assembly").click()
        clips = page.locator("#clip-list > li")
        expect(clips).to_have_count(3)
        (library / "vertical.mp4").rename(tmp_path / "vertical.mp4")
        page.get_by_role("button", name="Reindex").click()
        expect(page.locator(".source-card")).to_have_count(2)
        page.get_by_role("button", name="Render").click()
        expect(clips.nth(2).locator(".clip-error")).to_have_text("Source vertical.mp4 not found")
        expect(clips.nth(0).locator(".clip-error")).to_have_count(0)
        expect(page.locator("#assembly-error")).to_contain_text("fix clip 3")
        shot(page, "04-clip-error")
        page.get_by_role("button", name="Remove clip 3").click()
        expect(clips).to_have_count(2)
        expect(page.locator(".clip-error")).to_have_count(0)

        # Reorder by dragging clip 2 above clip 1, then back with the keyboard-friendly buttons.
        clips.nth(1).drag_to(clips.nth(0), target_position={"x": 40, "y": 4})
        expect(clips.nth(0)).to_contain_text("b.mov")
        expect(clips.nth(1)).to_contain_text("a.mp4")
        page.get_by_role("button", name="Move clip 1 down").click()
        expect(clips.nth(0)).to_contain_text("a.mp4")
        expect(clips.nth(1)).to_contain_text("b.mov")
        assert page.evaluate("document.activeElement.closest('li')?.dataset.pos") == "2", "focus follows the clip"
        expect(page.locator("#assembly-total")).to_have_text("2 clips · 1.80 s")

        # Reopen clip 2 in the player and move its Out five frames later.
        page.get_by_role("button", name="Edit clip 2 in the player").click()
        expect(page.locator("#in-point")).to_have_value("00:00:00:10")
        expect(page.locator("#out-point")).to_have_value("00:00:01:04")
        page.fill("#out-point", "00:00:01:09")
        page.press("#out-point", "Enter")
        page.get_by_role("button", name="Update clip 2").click()
        expect(clips.nth(1)).to_contain_text("00:00:00:10 → 00:00:01:09")
        expect(page.locator("#assembly-total")).to_have_text("2 clips · 2.00 s")
        expect(page.get_by_role("button", name="Add to assembly")).to_be_visible()

        # Name it, render it clean, follow the progress, play the result.
        page.fill("#assembly-name", "Two clips")
        page.locator("label[for=mode-clean]").click()
        page.evaluate(RECORD_PROGRESS)
        page.get_by_role("button", name="Render").click()
        card = page.locator(".render", has_text="Two clips")
        expect(card).to_have_count(1)
        shot(page, "05-rendering")
        expect(card.locator(".status")).to_have_text("Done", timeout=90_000)
        expect(page.locator("#assembly-status")).to_contain_text("Two clips is done")
        progress = page.evaluate("window.progressSeen")
        assert progress and progress[0] < 100 and progress == sorted(progress), progress
        expect(card.get_by_role("progressbar")).to_have_count(0)
        _, assemblies = http_json("GET", f"{base}/api/v1/assemblies")
        done = next(assembly for assembly in assemblies if assembly["name"] == "Two clips")
        assert done["status"] == "done" and done["preview"] is False
        assert [(clip["filename"], clip["start"], clip["end"]) for clip in done["clips"]] == [
            ("a.mp4", 1.0, 2.0),
            ("b.mov", 0.4, 1.4),
        ]
        player = card.locator("video")
        expect(player).to_have_attribute("src", done["output_url"])
        expect(card.get_by_role("link", name="Download")).to_have_attribute("download", "Two clips.mp4")
        player.evaluate("(video) => { video.muted = true; return video.play(); }")
        page.wait_for_function(
            "(video) => video.readyState >= 2 && video.currentTime > 0", arg=player.element_handle(), timeout=20_000
        )
        assert abs(player.evaluate("(video) => video.duration") - done["duration"]) < 0.05
        player.evaluate("(video) => video.pause()")
        shot(page, "06-render-done")
        assert no_sideways_scroll(page)

        # The same clips again while a.mp4 is missing on disk (but still indexed): the render fails, visibly.
        (library / "a.mp4").rename(tmp_path / "a.mp4")
        page.get_by_role("button", name="Render").click()
        failed = page.locator(".render").first
        expect(failed.locator(".status")).to_have_text("Failed", timeout=60_000)
        expect(failed.locator(".render-failed .notice-error")).not_to_be_empty()
        expect(page.locator("#assembly-error")).to_contain_text("failed")
        expect(page.locator(".render")).to_have_count(2)
        shot(page, "07-render-failed")
        (tmp_path / "a.mp4").rename(library / "a.mp4")
        assert errors == []

        # A phone-sized window: the vertical source stands upright and fits the screen.
        (tmp_path / "vertical.mp4").rename(library / "vertical.mp4")
        http_json("POST", f"{base}/api/v1/sources/reindex")
        phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
        phone_errors = watch_errors(phone)
        phone.goto(base)
        expect(phone.locator(".source-card")).to_have_count(3)
        shot(phone, "08-phone-library")
        phone.locator(".source-card", has_text="vertical.mp4").tap()
        phone.wait_for_function("() => document.getElementById('player').readyState >= 2")
        # The page scrolls to the player, which fits the screen whole.
        phone.wait_for_function(
            "() => { const box = document.getElementById('player').getBoundingClientRect();"
            " return box.top >= 0 && box.bottom <= window.innerHeight; }"
        )
        box = phone.locator("#player").bounding_box()
        assert box is not None and box["height"] > box["width"] * 1.7
        assert box["width"] <= PHONE["width"] and box["height"] <= PHONE["height"] * 0.65
        expect(phone.locator("#add-clip")).to_be_visible()
        assert no_sideways_scroll(phone)
        shot(phone, "09-phone-player", full_page=False)
        phone.locator("#renders").scroll_into_view_if_needed()
        shot(phone, "10-phone-renders", full_page=False)

        # A render's clips back into the (empty) assembly of this window.
        done_card = phone.locator(".render", has_text="Two clips").filter(has=phone.locator(".status-done"))
        done_card.locator("summary", has_text="2 clips").tap()
        done_card.get_by_role("button", name="Use these clips in the assembly").tap()
        expect(phone.locator("#clip-list > li")).to_have_count(2)
        expect(phone.locator("#assembly-name")).to_have_value("Two clips")
        assert no_sideways_scroll(phone)
        assert phone_errors == []


def test_h264_mp4_plays_in_this_chromium(browser: Browser, tmp_path: Path) -> None:
    """Debian's chromium decodes H.264 in MP4: the source player and the renders depend on it."""
    sources = tmp_path / "sources"
    sources.mkdir()
    make_video(sources / "clip.mp4", duration=1.0)
    with running_server(tmp_path) as base:
        page = browser.new_page()
        page.goto(base)
        assert page.evaluate("document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.64001e\"')")
        open_source(page, "clip.mp4")
        assert page.evaluate("document.getElementById('player').videoWidth") == 320


# The frame number shown by a <video> (argument: a CSS selector), read as SHOWN_FRAME does.
FRAME_OF = SHOWN_FRAME.replace('() => {\n  const video = document.getElementById("player");',
                               '(selector) => {\n  const video = document.querySelector(selector);')


def test_smart_cut_render_plays_frame_exact_and_renders_can_be_cancelled(
    browser: Browser, tmp_path: Path, sources_dir: Path
) -> None:
    with running_server(tmp_path) as base:
        clips = [{"source": "a.mp4", "start": 0.5, "end": 3.5}, {"source": "a.mp4", "start": 1.0, "end": 2.0}]
        _, clean = http_json("POST", f"{base}/api/v1/assemblies", {"name": "Smart", "preview": False, "clips": clips})
        page = browser.new_page(viewport=LAPTOP)
        errors = watch_errors(page)
        page.goto(base)
        card = page.locator(f"#render-{clean['id']}")
        expect(card.locator(".status")).to_have_text("Done", timeout=30_000)
        assert [clip["video"] for clip in http_json("GET", f"{base}/api/v1/assemblies/{clean['id']}")[1]["clips"]] \
            != ["reencode", "reencode"]  # frames were copied
        player = f"#render-{clean['id']} video"
        if not card.locator("video").count():
            requests = [line for line in (tmp_path / "server.log").read_text().splitlines() if "/output/" in line]
            pytest.fail(f"no player on the card: {card.inner_text()!r}; the server saw {requests}")
        page.eval_on_selector(player, "video => { video.preload = 'auto'; video.load(); }")
        page.wait_for_function(f"() => document.querySelector('{player}').readyState >= 2")
        # output frame k shows source frame 15 + k for the first clip (90 frames), then 30 + (k - 90)
        for k, frame in [(0, 15), (14, 29), (15, 30), (44, 59), (89, 104), (90, 30), (119, 59)]:
            page.eval_on_selector(player, f"video => {{ video.currentTime = {(k + 0.5) / 30}; }}")
            page.wait_for_function(
                f"(selector) => !document.querySelector(selector).seeking && ({FRAME_OF})(selector) === {frame}",
                arg=player, polling=50, timeout=5000,
            )

        # A load that fails (a dropped request) is tried again: the player still comes to play the render.
        other = browser.new_page(viewport=LAPTOP)
        dropped: list[str] = []
        other.route("**/output/**", lambda route: (dropped.append(route.request.url), route.abort())
                    if not dropped else route.continue_())
        other.goto(base)
        other.wait_for_function(f"() => document.querySelector('{player}')?.readyState >= 2", timeout=15_000)
        assert len(dropped) == 1
        other.close()

        _, long = http_json("POST", f"{base}/api/v1/assemblies",
                            {"name": "Long", "preview": True, "clips": [{"source": "a.mp4"}] * 120})
        page.reload()  # (the page itself looks for new renders every 10 s while idle)
        long_card = page.locator(f"#render-{long['id']}")
        long_card.get_by_role("button", name="Cancel the render of Long").click(timeout=30_000)
        expect(long_card.locator(".status")).to_have_text("Cancelled")
        expect(long_card).to_contain_text("the render was stopped")
        shot(page, "11-cancelled")
        assert http_json("GET", f"{base}/api/v1/assemblies/{long['id']}")[1]["status"] == "cancelled"
        assert errors == []

        # Deleting asks first; declined, the card stays; accepted, it goes, with its files.
        questions: list[str] = []
        answers = iter([False, True, True])

        def answer(dialog) -> None:
            questions.append(dialog.message)
            dialog.accept() if next(answers) else dialog.dismiss()

        page.on("dialog", answer)
        delete = long_card.get_by_role("button", name="Delete Long")
        delete.click()
        expect(long_card).to_be_visible()
        assert http_json("GET", f"{base}/api/v1/assemblies/{long['id']}")[0] == 200
        delete.click()
        expect(long_card).to_have_count(0, timeout=20000)  # a busy machine: the list is fetched again
        assert questions == [f'Delete the render "Long" ({long["id"]})? This cannot be undone.'] * 2
        assert http_json("GET", f"{base}/api/v1/assemblies/{long['id']}")[0] == 404
        expect(page.locator(f"#render-{clean['id']}")).to_be_visible()  # the others stay
        clean_card = page.locator(f"#render-{clean['id']}")
        clean_card.get_by_role("button", name="Delete Smart").click()
        expect(clean_card).to_have_count(0, timeout=20000)
        assert not (tmp_path / "output" / clean["id"]).exists()
        assert questions[2] == f'Delete the render "Smart" ({clean["id"]}) and its video file? This cannot be undone.'
        page.reload()
        expect(page.locator("#render-list > li")).to_have_count(0)
        assert errors == []

def test_with_an_api_token_the_page_asks_once_and_loads_everything(
    browser: Browser, tmp_path: Path, sources_dir: Path
) -> None:
    token = "browser-test-token-0123456789"
    with running_server(tmp_path, env={"KALINSKY_API_TOKEN": token}) as base:
        context = browser.new_context(viewport=LAPTOP)
        page = context.new_page()
        errors = watch_errors(page)
        refused: list[str] = []  # CSP violations are reported on the console
        page.on("console", lambda message: refused.append(message.text) if "Content Security" in message.text else None)
        questions: list[str] = []

        def answer(dialog: Dialog) -> None:
            questions.append(dialog.message)
            dialog.accept(token)

        page.on("dialog", answer)
        page.goto(base)
        expect(page.locator(".source-card")).to_have_count(2)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.source-card img')]"
            ".every((img) => img.complete && img.naturalWidth > 0)"
        )
        assert len(questions) == 1 and "API token" in questions[0]

        page.locator(".source-card", has_text="a.mp4").click()
        page.wait_for_function("() => document.getElementById('player').readyState >= 2")  # media with the cookie

        page.reload()
        expect(page.locator(".source-card")).to_have_count(2)
        assert len(questions) == 1, "the token is kept"
        assert not errors and not refused, (errors, refused)
        context.close()

# The mean brightness (0..255) of the player's decoded picture.
PICTURE_BRIGHTNESS = """() => {
  const video = document.getElementById("player");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 4) sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
  return sum / (pixels.length / 4) / 3;
}"""


def test_an_hevc_hdr_phone_source_plays_through_its_playable_copy(browser: Browser, tmp_path: Path) -> None:
    """Chromium has no HEVC decoder: the player waits for the playable copy, shows its picture and names the
    source's own frames."""
    sources = tmp_path / "sources"
    sources.mkdir()
    make_video(sources / "iphone.mov", duration=1.5, size="360x640", codec="libx265", rotated=True, offset=100,
               extra=("-vf", "zscale=tin=bt709:min=bt709:pin=bt709:t=arib-std-b67:m=bt2020nc:p=bt2020:npl=203,"
                      "format=yuv420p10le", "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020",
                      "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc", "-preset", "ultrafast",
                      "-tag:v", "hvc1", "-x265-params", "log-level=error:keyint=15:open-gop=0"))
    with running_server(tmp_path, env={"KALINSKY_AUTO_REINDEX": "false"}) as base:
        assert http_json("POST", f"{base}/api/v1/sources/reindex")[0] == 200
        page = browser.new_page(viewport=LAPTOP)
        errors = watch_errors(page)
        # The copy is made within a second or two of the reindex: the first answers the page gets say it is
        # still in the making, as they would for a longer video.
        answers = {"count": 0}

        def in_the_making(route: Route) -> None:
            response = route.fetch()
            sources = response.json()
            answers["count"] += 1
            if answers["count"] <= 2:
                for source in sources:
                    if source["filename"] == "iphone.mov":
                        source["proxy"] = {"progress": 0.4, "state": "making"}
            route.fulfill(response=response, json=sources)

        page.route("**/api/v1/sources", in_the_making)
        page.goto(base)
        page.evaluate("""() => {
          window.statusSeen = [];
          const status = document.getElementById("player-status");
          new MutationObserver(() => window.statusSeen.push(status.hidden ? "" : status.textContent))
            .observe(status, { childList: true, characterData: true, subtree: true, attributes: true });
        }""")
        card = page.locator(".source-card", has_text="iphone.mov")
        # closed GOPs, as iPhones write them: a clean render copies its frames
        for label in ("HLG", "10-bit", "rotated 90°", "proxy", "lossless"):
            expect(card.locator(".qc-badge", has_text=label)).to_be_visible()
        assert "tone-mapped" in card.locator(".qc-badge", has_text="HLG").get_attribute("title")
        card.click()
        expect(page.locator("#player-status")).to_have_text("Preparing a playable copy of this video… 40 %")
        assert page.evaluate("() => document.getElementById('player').getAttribute('src')") is None
        # then, asked again, the copy is ready and plays
        page.wait_for_function("() => document.getElementById('player').readyState >= 2", timeout=20000)
        expect(page.locator("#player-status")).to_be_hidden()
        expect(page.locator("#player-error")).to_be_hidden()
        expect(page.locator("#player-qc .qc-badge", has_text="HLG")).to_be_visible()
        seen = page.evaluate("() => window.statusSeen")
        assert "Preparing a playable copy of this video… 40 %" in seen and seen[-1] == "", seen
        assert page.evaluate("() => document.getElementById('player').getAttribute('src')").endswith("?playable=1")
        assert page.evaluate("() => [document.getElementById('player').videoWidth, "
                             "document.getElementById('player').videoHeight]") == [360, 640]  # upright
        expect_picture(page, 100)
        brightness = page.evaluate(PICTURE_BRIGHTNESS)
        assert 40 < brightness < 220, brightness  # stripes of white and black: never a black box
        for _ in range(7):
            page.locator("#frame-forward").click()
        expect_picture(page, 107)
        expect(page.locator("#frame-info")).to_have_text("frame 8 of 45")
        page.keyboard.press("i")
        expect(page.locator("#in-point")).to_have_value("00:00:00:07")
        shot(page, "hevc-source-through-its-playable-copy")
        assert errors == []

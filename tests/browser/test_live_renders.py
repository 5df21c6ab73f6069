"""The Renders panel follows the server's event stream: a render started elsewhere appears, moves and ends on the
page without the list being polled; with the stream down, polling takes over."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Browser, Request, Route, expect
from server import http_json, running_server
from test_ui import LAPTOP, RECORD_PROGRESS, browser, open_source  # noqa: F401  (the module's browser fixture)

CLIPS = {"name": "Elsewhere", "preview": False, "clips": [{"source": "a.mp4", "end": 4}]}


def list_requests(requests: list[str]) -> list[str]:
    return [url for url in requests if "/api/v1/assemblies" in url and "/api/v1/assemblies/" not in url]


def test_a_render_started_elsewhere_arrives_over_the_stream_without_polling(
    browser: Browser, tmp_path: Path, sources_dir: Path  # noqa: F811
) -> None:
    with running_server(tmp_path) as base:
        page = browser.new_page(viewport=LAPTOP)
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(base)
        expect(page.locator(".source-card")).to_have_count(2)
        deadline = time.monotonic() + 20
        while not any("/api/v1/events" in url for url in requests) and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        page.wait_for_timeout(1500)  # the stream's first answer and the refresh it brings
        settled = len(list_requests(requests))
        page.evaluate(RECORD_PROGRESS)
        status, created = http_json("POST", f"{base}/api/v1/assemblies", CLIPS)  # from another client
        assert status == 202
        card = page.locator(f"#render-{created['id']}")
        expect(card).to_be_visible(timeout=10000)
        expect(card.locator("video")).to_have_count(1, timeout=60000)  # done: the result plays in the card
        assert list_requests(requests)[settled:] == []  # nothing was polled: it all came over the stream
        seen = page.evaluate("() => window.progressSeen")
        assert seen == sorted(seen)
        # the card tells what happened at each clip, from the render's report
        card.locator(".render-report summary").click()
        expect(card.locator(".render-report-summary")).to_have_text(
            "1 clip (1 copied) · all 120 frames written · no joins", timeout=10000
        )
        expect(card.locator(".render-report-clips tbody tr")).to_have_count(1)
        # a fresh cache: the clip was made now; the steps were timed
        expect(card.locator(".render-report-cache")).to_have_text(
            re.compile(r"^0 of 1 clip from the cache · cut \d+\.\d s, join \d+\.\d s, \d+\.\d s in all$"))
        expect(card.locator(".render-report-clips tbody td").last).to_have_text("made now")


def test_with_the_stream_down_the_renders_are_polled(
    browser: Browser, tmp_path: Path, sources_dir: Path  # noqa: F811
) -> None:
    with running_server(tmp_path) as base:
        page = browser.new_page(viewport=LAPTOP)

        def refuse(route: Route) -> None:
            route.fulfill(status=503, body="")

        page.route("**/api/v1/events", refuse)
        requests: list[Request] = []
        page.on("request", lambda request: requests.append(request))
        page.goto(base)
        status, created = http_json("POST", f"{base}/api/v1/assemblies", CLIPS)
        assert status == 202
        card = page.locator(f"#render-{created['id']}")
        expect(card.locator("video")).to_have_count(1, timeout=60000)
        assert len(list_requests([request.url for request in requests])) >= 2


def test_a_render_that_ends_before_its_answer_arrives_shows_its_end(
    browser: Browser, tmp_path: Path, sources_dir: Path  # noqa: F811
) -> None:
    """The stream can tell of a render's end before the page has the answer that created it: that older answer
    must not put the card back to "processing"."""
    with running_server(tmp_path) as base:
        page = browser.new_page(viewport=LAPTOP)
        page.goto(base)
        expect(page.locator(".source-card")).to_have_count(2)
        open_source(page, "a.mp4")
        page.get_by_role("button", name="Add to assembly").click()
        (sources_dir / "a.mp4").rename(tmp_path / "a.mp4")  # still indexed: the render fails at once

        answered: list[bool] = []

        def late(route: Route) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            answer = route.fetch()
            page.wait_for_timeout(1500)  # meanwhile the stream tells of the failure
            route.fulfill(response=answer)
            answered.append(True)

        page.route("**/api/v1/assemblies", late)
        page.get_by_role("button", name="Render").click()
        card = page.locator(".render").first
        expect(card.locator(".status")).to_have_text("Failed", timeout=20000)
        while not answered:
            page.wait_for_timeout(100)
        page.wait_for_timeout(500)  # the late answer is on the page
        expect(card.locator(".status")).to_have_text("Failed")
        expect(card.locator(".render-failed .notice-error")).not_to_be_empty()
        expect(page.locator("#assembly-error")).to_contain_text("failed")  # the draft hears of it too

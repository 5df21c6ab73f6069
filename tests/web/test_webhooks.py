"""Webhooks: a real receiver on 127.0.0.1 gets each finished assembly's JSON, signed, retried after failures;
the delivery state shows in the assembly; a slow or dead receiver never slows the API."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from litestar.testing import TestClient
from webapp import settings_for, wait_done

from kalinsky_adapters.webhooks import retry_delays, signature
from kalinsky_web.app import create_app

SECRET = "s3cret-for-tests"


class Receiver:
    """An HTTP server that records every POST and answers with the next of `answers` (then 200)."""

    def __init__(self, answers: list[int] | None = None, delay: float = 0.0, port: int = 0) -> None:
        self.answers = list(answers or [])
        self.delay = delay
        self.deliveries: list[tuple[dict[str, str], bytes, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((dict(self.headers), body, time.time()))
                time.sleep(receiver.delay)
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?from=kalinsky"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(answers=[500])
    yield server
    server.close()


def fast_retries(root: Path, **overrides):
    return settings_for(root, webhook_secret=SECRET, webhook_first_retry=0.2, webhook_retry_window=1.0,
                        webhook_timeout=1.0, **overrides)


def wait_callback(client: TestClient, assembly_id: str, status: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assembly = client.get(f"/api/v1/assemblies/{assembly_id}").json()
        if assembly["callback"]["status"] == status:
            return assembly
        time.sleep(0.05)
    raise TimeoutError(f"{assembly_id}: callback {assembly['callback']}")


def test_a_finished_render_is_posted_signed_and_retried_after_a_500(
    tmp_path: Path, sources_dir: Path, receiver: Receiver
) -> None:
    with TestClient(app=create_app(fast_retries(tmp_path))) as client:
        created = client.post(
            "/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}], "callback_url": receiver.url}
        ).json()
        assert created["callback"] == {"attempts": 0, "last_error": None, "status": "pending", "url": receiver.url}
        done = wait_done(client, created["id"])
        assert done["status"] == "done"
        delivered = wait_callback(client, created["id"], "delivered")
    assert delivered["callback"] == {"attempts": 2, "last_error": None, "status": "delivered", "url": receiver.url}
    assert len(receiver.deliveries) == 2
    (first_headers, first_body, first_at), (headers, body, at) = receiver.deliveries
    assert first_body == body and 0.15 <= at - first_at < 1.0  # the same notice again, after the first delay
    for sent_headers, sent_body, _ in receiver.deliveries:
        timestamp = sent_headers["X-Kalinsky-Timestamp"]
        assert abs(int(timestamp) - time.time()) < 30
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + sent_body, hashlib.sha256).hexdigest()
        assert sent_headers["X-Kalinsky-Signature"] == f"sha256={expected}"
        assert sent_headers["Content-Type"] == "application/json"
    notice = json.loads(body)
    assert (notice["id"], notice["status"], notice["output_url"]) == (created["id"], "done", done["output_url"])
    assert notice["duration"] == done["duration"] and notice["clips"] == done["clips"]
    assert list(notice) == sorted(notice)  # the API's own Assembly body, fields in its order


def test_a_cancelled_render_is_told_too(tmp_path: Path, sources_dir: Path) -> None:
    receiver = Receiver()
    try:
        with TestClient(app=create_app(fast_retries(tmp_path))) as client:
            created = client.post("/api/v1/assemblies", json={
                "preview": False, "clips": [{"source": 1}] * 20, "callback_url": receiver.url}).json()
            assert client.post(f"/api/v1/assemblies/{created['id']}/cancel").json()["status"] == "cancelled"
            assert wait_callback(client, created["id"], "delivered")["callback"]["attempts"] == 1
        [(_, body, _)] = receiver.deliveries
        assert json.loads(body)["status"] == "cancelled"
    finally:
        receiver.close()


def test_a_dead_receiver_is_retried_until_the_window_ends_and_never_slows_the_api(
    tmp_path: Path, sources_dir: Path
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    slow = Receiver(delay=5.0)
    try:
        with TestClient(app=create_app(fast_retries(tmp_path))) as client:
            to_dead = client.post("/api/v1/assemblies", json={
                "clips": [{"source": 1, "end": 0.5}], "callback_url": dead}).json()
            to_slow = client.post("/api/v1/assemblies", json={
                "clips": [{"source": 1, "end": 0.5}], "callback_url": slow.url}).json()
            wait_done(client, to_dead["id"])
            wait_done(client, to_slow["id"])
            started = time.monotonic()
            for _ in range(5):
                assert client.get("/api/v1/assemblies").status_code == 200
            assert time.monotonic() - started < 1.0  # deliveries under way hold nothing up
            failed = wait_callback(client, to_dead["id"], "failed")["callback"]
            # 0.2 + 0.4 + the rest of the 1 s window: three retries after the first attempt
            assert failed["attempts"] == 4 and "Connect" in failed["last_error"]
            timed_out = wait_callback(client, to_slow["id"], "failed")["callback"]
            assert timed_out["last_error"] == "no answer within 1 s"
    finally:
        slow.close()


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)", "/relative/hook", "http://",
            "http://exa mple.com/"],
)
def test_callback_url_must_be_http_or_https(client: TestClient, url: str) -> None:
    response = client.post("/api/v1/assemblies", json={"clips": [{"source": 1}], "callback_url": url})
    assert response.status_code == 422, response.json()
    assert response.json()["detail"].startswith("callback_url must")
    assert client.get("/api/v1/assemblies").json() == []


def test_without_a_callback_url_callback_is_null(client: TestClient) -> None:
    created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]}).json()
    assert created["callback"] is None
    assert wait_done(client, created["id"])["callback"] is None
    assert client.post("/api/v1/assemblies", json={"clips": [{"source": 1}], "callback_url": 5}).status_code == 400


def test_an_undelivered_notice_is_sent_after_a_restart(tmp_path: Path, sources_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    with TestClient(app=create_app(settings_for(tmp_path, webhook_secret=SECRET, webhook_first_retry=60))) as client:
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}], "callback_url": url})
        wait_done(client, created.json()["id"])
        wait_callback(client, "asm_001", "retrying")  # nothing listens yet; the next try is a minute off
    receiver = Receiver(port=port)
    try:
        with TestClient(app=create_app(fast_retries(tmp_path))) as client:
            told = wait_callback(client, "asm_001", "delivered")["callback"]
        assert told["attempts"] == 2 and len(receiver.deliveries) == 1
        assert json.loads(receiver.deliveries[0][1])["id"] == "asm_001"
    finally:
        receiver.close()


def test_retries_double_for_about_ten_minutes_by_default() -> None:
    assert retry_delays(5, 600) == [5, 10, 20, 40, 80, 160, 285]
    assert sum(retry_delays(5, 600)) == 600
    assert retry_delays(0.2, 1.0) == pytest.approx([0.2, 0.4, 0.4])
    assert retry_delays(0, 600) == []


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # as a receiver in another language computes it: printf '%s' '1700000000.{"a":1}' | openssl sha256 -hmac key
    assert signature("key", 1700000000, b'{"a":1}') == (
        "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
    )

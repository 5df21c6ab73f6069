"""Webhooks: a real receiver on 127.0.0.1 gets each finished assembly's JSON, signed, retried after failures;
the delivery state shows in the assembly; a slow or dead receiver never slows the API. Receivers on this machine
are refused unless private receivers are allowed (as for a receiver on the LAN), so the delivery tests allow
them; the tests after them check the refusals, that no request reaches the receiver then, and that a delivery
goes to the very address checked, with the URL's name kept for Host and TLS."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attrs
import pytest
from litestar.testing import TestClient
from samples import assembly
from webapp import settings_for, wait_done

from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.webhooks import WebhookSender, retry_delays, signature
from kalinsky_core.model import Callback, CallbackStatus, IpAddress
from kalinsky_web.app import create_app

SECRET = "s3cret-for-tests"


class Receiver:
    """An HTTP server that records every POST and answers with the next of `answers` (then 200)."""

    def __init__(self, answers: list[int] | None = None, delay: float = 0.0, port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
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
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook?from=kalinsky"
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
    settings = {"webhook_secret": SECRET, "webhook_first_retry": 0.2, "webhook_retry_window": 1.0,
                "webhook_timeout": 1.0, "webhook_allow_private": True, **overrides}
    return settings_for(root, **settings)


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
    first = settings_for(tmp_path, webhook_secret=SECRET, webhook_first_retry=60, webhook_allow_private=True)
    with TestClient(app=create_app(first)) as client:
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


# -- what webhooks may not reach ------------------------------------------------------------------------------

REFUSED = "; set KALINSKY_WEBHOOK_ALLOW_PRIVATE=true to allow"


@pytest.mark.parametrize("url, kind", [
    ("http://10.0.0.5/hook", "a private address (10.0.0.5)"),
    ("http://192.168.1.20:8080/hook", "a private address (192.168.1.20)"),
    ("http://169.254.169.254/latest/meta-data/", "a link-local address (169.254.169.254)"),
    ("http://[::1]:9000/hook", "a loopback address (::1)"),
    ("http://[fd12:3456::1]/hook", "a private address (fd12:3456::1)"),
    ("https://0.0.0.0/hook", "an unspecified address (0.0.0.0)"),
    ("http://224.0.0.251/hook", "a multicast address (224.0.0.251)"),
    ("http://[::ffff:10.1.2.3]/hook", "a private address (::ffff:a01:203)"),
    ("http://100.64.0.1/hook", "a non-global address (100.64.0.1)"),
])
def test_a_callback_url_naming_a_non_global_address_is_refused_at_creation(
    client: TestClient, url: str, kind: str
) -> None:
    response = client.post("/api/v1/assemblies", json={"clips": [{"source": 1}], "callback_url": url})
    assert response.status_code == 422, response.json()
    assert response.json()["detail"] == f"callback_url must not point at {kind}{REFUSED}"
    assert client.get("/api/v1/assemblies").json() == []


def test_a_loopback_receiver_is_refused_at_creation_unless_private_receivers_are_allowed(
    tmp_path: Path, sources_dir: Path, receiver: Receiver
) -> None:
    clips = [{"source": 1, "end": 0.5}]
    with TestClient(app=create_app(settings_for(tmp_path, webhook_secret=SECRET))) as client:
        refused = client.post("/api/v1/assemblies", json={"clips": clips, "callback_url": receiver.url})
        assert refused.status_code == 422
        assert refused.json()["detail"] == f"callback_url must not point at a loopback address (127.0.0.1){REFUSED}"
    with TestClient(app=create_app(fast_retries(tmp_path, webhook_first_retry=0))) as client:
        created = client.post("/api/v1/assemblies", json={"clips": clips, "callback_url": receiver.url}).json()
        wait_done(client, created["id"])
        told = wait_callback(client, created["id"], "failed")["callback"]  # the receiver answers 500 once
    assert told["last_error"] == "HTTP 500" and len(receiver.deliveries) == 1


def test_a_host_name_resolving_to_loopback_is_refused_when_sent_and_not_retried(
    tmp_path: Path, sources_dir: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://localhost:{receiver.port}/hook"
    with TestClient(app=create_app(fast_retries(tmp_path, webhook_allow_private=False))) as client:
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}], "callback_url": url})
        assert created.status_code == 202  # a name: where it leads is checked when the notice is sent
        wait_done(client, created.json()["id"])
        failed = wait_callback(client, "asm_001", "failed")["callback"]
        time.sleep(1.2)  # longer than the retry window: nothing more is tried
        assert client.get("/api/v1/assemblies/asm_001").json()["callback"] == failed
    assert failed["attempts"] == 1
    assert re.fullmatch(r"refused: (127\.0\.0\.1|::1) is a loopback address" + re.escape(REFUSED),
                        failed["last_error"]), failed
    assert receiver.deliveries == []  # no request reached it
    assert any("not telling" in record.getMessage() for record in caplog.records)


def test_with_private_receivers_allowed_a_loopback_name_is_delivered_with_its_host_header(
    tmp_path: Path, sources_dir: Path
) -> None:
    receiver = Receiver()
    url = f"http://localhost:{receiver.port}/hook"
    try:
        with TestClient(app=create_app(fast_retries(tmp_path))) as client:
            created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}],
                                                               "callback_url": url}).json()
            wait_done(client, created["id"])
            assert wait_callback(client, created["id"], "delivered")["callback"]["last_error"] is None
        [(headers, body, _)] = receiver.deliveries
        assert headers["Host"] == f"localhost:{receiver.port}" and json.loads(body)["id"] == created["id"]
    finally:
        receiver.close()


def test_a_notice_stored_while_allowed_is_refused_after_a_restart_without(tmp_path: Path, sources_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    with TestClient(app=create_app(fast_retries(tmp_path, webhook_first_retry=60))) as client:
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}], "callback_url": url})
        wait_done(client, created.json()["id"])
        wait_callback(client, "asm_001", "retrying")  # nothing listens yet
    receiver = Receiver(port=port)
    try:
        with TestClient(app=create_app(fast_retries(tmp_path, webhook_allow_private=False))) as client:
            refused = wait_callback(client, "asm_001", "failed")["callback"]
        assert refused["attempts"] == 2
        assert refused["last_error"] == f"refused: 127.0.0.1 is a loopback address{REFUSED}"
        assert receiver.deliveries == []
    finally:
        receiver.close()


def test_without_a_secret_the_start_warns_that_webhooks_are_unsigned(
    tmp_path: Path, sources_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), TestClient(app=create_app(settings_for(tmp_path))):
        pass
    unsigned = [r.getMessage() for r in caplog.records if "unsigned" in r.getMessage()]
    assert unsigned == ["KALINSKY_WEBHOOK_SECRET is not set: webhook deliveries (callback_url) are unsigned, and "
                        "receivers cannot tell them from forgeries"]
    caplog.clear()
    with caplog.at_level(logging.WARNING), TestClient(app=create_app(fast_retries(tmp_path))):
        pass
    assert not [r for r in caplog.records if "unsigned" in r.getMessage()]


# -- the connection goes to the address checked --------------------------------------------------------------

async def _deliver(url: str, **options) -> tuple[Callback, InMemoryRepo]:
    repo = InMemoryRepo()
    told = attrs.evolve(assembly(1), callback=Callback(url=url)).completed(1.0)
    await repo.add(told)
    sender = WebhookSender(repo, lambda _: b'{"id": "asm_001"}', first_retry=0, timeout=5.0, **options)
    sender.finished(told)
    await sender.wait_idle()
    await sender.aclose()
    stored = await repo.get(told.id)
    assert stored is not None and stored.callback is not None
    return stored.callback, repo


def test_a_delivery_connects_to_the_address_its_name_was_resolved_to_once() -> None:
    receiver = Receiver()
    asked: list[tuple[str, int]] = []

    async def resolver(host: str, port: int) -> list[IpAddress]:
        asked.append((host, port))
        return [ipaddress.ip_address("127.0.0.1")]

    try:
        # a name no DNS knows: the request can only have reached the receiver through the address checked
        url = f"http://hooks.example.invalid:{receiver.port}/hook"
        callback, _ = asyncio.run(_deliver(url, resolver=resolver, allow_private=True))
        assert callback.status is CallbackStatus.DELIVERED, callback
        assert asked == [("hooks.example.invalid", receiver.port)]
        [(headers, _, _)] = receiver.deliveries
        assert headers["Host"] == f"hooks.example.invalid:{receiver.port}"
        refused, _ = asyncio.run(_deliver(url, resolver=resolver))
        assert (refused.status, refused.attempts, refused.last_error) == (
            CallbackStatus.FAILED, 1, f"refused: 127.0.0.1 is a loopback address{REFUSED}")
        assert len(receiver.deliveries) == 1 and len(asked) == 2
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def localhost_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_tls_is_checked_against_the_urls_name_while_connecting_to_the_address(
    localhost_certificate: tuple[Path, Path]
) -> None:
    cert, key = localhost_certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    receiver = Receiver(tls=server_tls)
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        delivered, _ = asyncio.run(_deliver(f"https://localhost:{receiver.port}/hook", allow_private=True,
                                            verify=trusting))
        assert delivered.status is CallbackStatus.DELIVERED, delivered  # the name's certificate, at the address
        assert len(receiver.deliveries) == 1
        untrusted, _ = asyncio.run(_deliver(f"https://localhost:{receiver.port}/hook", allow_private=True))
        assert untrusted.status is CallbackStatus.FAILED and "CERTIFICATE_VERIFY_FAILED" in untrusted.last_error
        wrong_name, _ = asyncio.run(_deliver(f"https://127.0.0.1:{receiver.port}/hook", allow_private=True,
                                             verify=trusting))  # the certificate is for localhost only
        assert wrong_name.status is CallbackStatus.FAILED and "CERTIFICATE_VERIFY_FAILED" in wrong_name.last_error
        assert len(receiver.deliveries) == 1
    finally:
        receiver.close()


def test_the_readmes_verification_accepts_a_real_signature_and_refuses_a_forged_one() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("*Verifying a delivery.*"):]
    snippet = section[section.index("```python\n") + 10:section.index("```\n", section.index("```python"))]
    body, timestamp = b'{"id": "asm_001", "status": "done"}', str(int(time.time()))
    for header, expected in [(signature(SECRET, int(timestamp), body), True),
                             (signature("another secret", int(timestamp), body), False),
                             (signature(SECRET, int(timestamp) - 3600, body), False)]:
        scope = {"hmac": hmac, "hashlib": hashlib, "time": time, "secret": SECRET.encode(), "body": body,
                 "timestamp": timestamp, "signature_header": header}
        exec(snippet, scope)  # noqa: S102 (the README's own code)
        assert scope["ok"] is expected
    stale = str(int(time.time()) - 3600)
    scope = {"hmac": hmac, "hashlib": hashlib, "time": time, "secret": SECRET.encode(), "body": body,
             "timestamp": stale, "signature_header": signature(SECRET, int(stale), body)}
    exec(snippet, scope)  # noqa: S102
    assert scope["ok"] is False  # signed, but an hour old: a replay

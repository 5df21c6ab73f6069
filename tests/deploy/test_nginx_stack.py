"""deploy/nginx.conf in a real nginx in front of the real `kalinsky serve`: the deployed routing, checked
through nginx only (frontend at /, API at /api/, renders at /output/)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from local_nginx import fetch, running_nginx
from media import make_video, probe, stream
from server import free_port, http_json, running_server, wait_for_assembly

REPO_FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


@attrs.frozen
class Stack:
    url: str  # nginx
    workdir: Path  # the API's working folder: sources/, output/, data/
    assembly: dict  # rendered through nginx

    @property
    def result(self) -> Path:
        return self.workdir / "output" / self.assembly["id"] / "result.mp4"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, media_library: Path) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    shutil.copytree(media_library, workdir / "sources")
    # Noise barely compresses: a source of several megabytes, larger than nginx's proxy buffers.
    make_video(workdir / "sources" / "noise.mp4", duration=2.0, extra=("-vf", "noise=alls=100:allf=t", "-crf", "10"))
    api_port = free_port()
    with (
        running_server(workdir, port=api_port, env={"KALINSKY_AUTO_REINDEX": "false"}),
        running_nginx(workdir / "nginx", api_port=api_port, frontend=REPO_FRONTEND, output_parent=workdir,
                      port=free_port()) as url,
    ):
        status, index = http_json("POST", f"{url}/api/v1/sources/reindex", timeout=60)
        assert (status, index["count"]) == (200, 3), index
        status, created = http_json(
            "POST", f"{url}/api/v1/assemblies",
            {"name": "behind nginx", "preview": False,
             "clips": [{"source": "a.mp4", "start": 1.0, "end": 2.0}, {"source": "b.mov", "start": 0.4, "end": 1.2}]},
        )
        assert status == 202, created
        done = wait_for_assembly(url, created["id"], timeout=60)
        assert done["status"] == "done", done["error"]
        yield Stack(url=url, workdir=workdir, assembly=done)


def test_render_requested_through_nginx_is_served_from_output(stack: Stack, tmp_path: Path) -> None:
    assert stack.assembly["output_url"] == f"/output/{stack.assembly['id']}/result.mp4"
    reply = fetch(stack.url, stack.assembly["output_url"])
    assert reply.status == 200
    assert reply.headers["content-type"] == "video/mp4"
    assert reply.body == stack.result.read_bytes()
    downloaded = tmp_path / "downloaded.mp4"
    downloaded.write_bytes(reply.body)
    video = stream(probe(downloaded), "video")
    assert (video["width"], video["height"], int(video["nb_frames"])) == (320, 240, 30 + 24)  # 0.8 s of b at 30 fps


def test_output_is_revalidated_by_etag_every_time(stack: Stack) -> None:
    reply = fetch(stack.url, stack.assembly["output_url"], method="HEAD")
    assert reply.status == 200 and int(reply.headers["content-length"]) == stack.result.stat().st_size
    assert reply.headers["cache-control"] == "no-cache"  # ids are reused after a reset: never `immutable`
    assert reply.headers["accept-ranges"] == "bytes"
    again = fetch(stack.url, stack.assembly["output_url"], headers={"If-None-Match": reply.headers["etag"]})
    assert (again.status, again.body) == (304, b"")


def test_a_new_render_under_a_reused_url_is_not_hidden_by_an_old_copy(stack: Stack) -> None:
    folder = stack.workdir / "output" / "asm_900"
    folder.mkdir()
    (folder / "result.mp4").write_bytes(b"the render before data/ was reset")
    old = fetch(stack.url, "/output/asm_900/result.mp4")
    assert old.status == 200 and "immutable" not in old.headers["cache-control"]
    replacement = folder / "new.mp4"
    replacement.write_bytes(b"the render after data/ was reset, longer")
    stamp = (folder / "result.mp4").stat().st_mtime_ns + 2 * 10**9  # rendered later
    os.utime(replacement, ns=(stamp, stamp))
    os.replace(replacement, folder / "result.mp4")
    new = fetch(stack.url, "/output/asm_900/result.mp4", headers={"If-None-Match": old.headers["etag"]})
    assert (new.status, new.body) == (200, b"the render after data/ was reset, longer")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../data/kalinsky.db"])
def test_output_follows_no_link(stack: Stack, target: str) -> None:
    folder = stack.workdir / "output" / "asm_901"
    folder.mkdir(exist_ok=True)
    link = folder / "result.mp4"
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    assert link.resolve().is_file()
    reply = fetch(stack.url, "/output/asm_901/result.mp4")
    assert 400 <= reply.status < 500, reply.status
    assert b"root:" not in reply.body and b"SQLite format" not in reply.body


def test_output_answers_range_requests_for_seeking(stack: Stack) -> None:
    data = stack.result.read_bytes()
    middle = fetch(stack.url, stack.assembly["output_url"], headers={"Range": "bytes=1000-1999"})
    assert middle.status == 206
    assert middle.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert middle.headers["content-type"] == "video/mp4"
    assert middle.body == data[1000:2000]
    tail = fetch(stack.url, stack.assembly["output_url"], headers={"Range": "bytes=-500"})
    assert (tail.status, tail.body) == (206, data[-500:])
    beyond = fetch(stack.url, stack.assembly["output_url"], headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status == 416


@pytest.mark.parametrize(
    "path",
    [
        "/output/",
        "/output/{id}/",
        "/output/{id}/segments/001.mov",
        "/output/.hidden",
        "/output/../data/kalinsky.db",
        "/output/%2e%2e/data/kalinsky.db",
        "/output/..%2fdata%2fkalinsky.db",
        "/output/%2e%2e%2fdata%2fkalinsky.db",
        "/output/{id}/../../data/kalinsky.db",
        "/output/../../../etc/passwd",
        "/output/..%2f..%2f..%2fetc%2fpasswd",
        "/../data/kalinsky.db",
        "/output",
    ],
)
def test_output_lists_no_folder_and_serves_nothing_outside_it(stack: Stack, path: str) -> None:
    # Files that a wrong root or alias would expose.
    (stack.workdir / "output" / ".hidden").write_text("secret")
    segments = stack.workdir / "output" / stack.assembly["id"] / "segments"
    segments.mkdir(exist_ok=True)
    (segments / "001.mov").write_bytes(b"a render in progress")
    assert (stack.workdir / "data" / "kalinsky.db").is_file()

    reply = fetch(stack.url, path.format(id=stack.assembly["id"]))
    assert 400 <= reply.status < 500, (reply.status, reply.body[:200])
    for leaked in (b"SQLite format", b"root:", b"secret", b"in progress", b"Index of", stack.assembly["id"].encode()):
        assert leaked not in reply.body


def test_frontend_is_served_at_the_root(stack: Stack) -> None:
    page = fetch(stack.url, "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    html = page.body.decode()
    for asset, kind in (("app.js", "application/javascript"), ("style.css", "text/css")):
        assert asset in html, f"index.html does not load {asset}"
        reply = fetch(stack.url, f"/{asset}")
        assert reply.status == 200 and reply.headers["content-type"].startswith(kind), (asset, reply.headers)
        assert reply.body == (REPO_FRONTEND / asset).read_bytes()
    assert fetch(stack.url, "/index.html").body == page.body
    assert fetch(stack.url, "/no-such-page").status == 404


def test_api_answers_through_nginx_with_its_own_errors(stack: Stack) -> None:
    schema = fetch(stack.url, "/api/schema/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert schema.status == 200 and schema.headers["content-encoding"] == "gzip"
    assert "/api/v1/assemblies" in json.loads(gzip.decompress(schema.body))["paths"]
    missing = fetch(stack.url, "/api/v1/assemblies/asm_999")
    assert missing.status == 404
    assert json.loads(missing.body)["detail"]  # the API's JSON, not an nginx page
    listed = fetch(stack.url, "/api/v1/assemblies")
    assert listed.status == 200 and json.loads(listed.body)[0]["id"] == stack.assembly["id"]


def test_api_refuses_request_bodies_beyond_the_limit(stack: Stack) -> None:
    reply = fetch(stack.url, "/api/v1/assemblies", method="POST", body=b" " * (5 * 1024 * 1024),
                  headers={"Content-Type": "application/json"})
    assert reply.status == 413


def test_source_media_is_proxied_whole_and_by_range(stack: Stack) -> None:
    _, sources = http_json("GET", f"{stack.url}/api/v1/sources")
    noise = next(source for source in sources if source["filename"] == "noise.mp4")
    data = (stack.workdir / "sources" / "noise.mp4").read_bytes()
    assert len(data) > 2 * 1024 * 1024  # far beyond the proxy buffers: streamed, not buffered whole
    media = f"/api/v1/sources/{noise['index']}/media"

    whole = fetch(stack.url, media)
    assert whole.status == 200 and whole.body == data
    assert whole.headers["content-type"] == "video/mp4"
    start = len(data) // 2
    part = fetch(stack.url, media, headers={"Range": f"bytes={start}-{start + 65535}"})
    assert part.status == 206
    assert part.headers["content-range"] == f"bytes {start}-{start + 65535}/{len(data)}"
    assert part.body == data[start:start + 65536]

    thumbnail = fetch(stack.url, f"/api/v1/sources/{noise['index']}/thumbnail")
    assert thumbnail.status == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.body.startswith(b"\xff\xd8")


def test_api_not_listening_is_a_json_503_and_the_frontend_still_loads(tmp_path: Path) -> None:
    (tmp_path / "output").mkdir()
    with running_nginx(tmp_path / "nginx", api_port=free_port(), frontend=REPO_FRONTEND, output_parent=tmp_path,
                       port=free_port()) as url:
        reply = fetch(url, "/api/v1/sources")
        assert reply.status == 503 and reply.headers["content-type"] == "application/json"
        assert reply.headers["retry-after"] == "5"
        assert "not reachable" in json.loads(reply.body)["detail"]
        assert fetch(url, "/").status == 200
        # renders ask the API whether the request may have them: without it, the same 503
        unreachable = fetch(url, "/output/asm_001/result.mp4")
        assert unreachable.status == 503 and "not reachable" in json.loads(unreachable.body)["detail"]


def test_nginx_sends_csp_nosniff_and_no_framing(stack: Stack) -> None:
    for path in ("/", "/app.js", stack.assembly["output_url"], "/api/v1/assemblies", "/no-such-page"):
        headers = fetch(stack.url, path).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
    page = fetch(stack.url, "/").headers["content-security-policy"]
    assert "default-src 'self'" in page and "media-src 'self' blob:" in page and "style-src 'self'" in page


def test_with_an_api_token_nginx_serves_renders_only_with_it(tmp_path: Path, media_library: Path) -> None:
    token = "deploy-test-token-0123456789"
    shutil.copytree(media_library, tmp_path / "sources")
    result = tmp_path / "output" / "asm_001" / "result.mp4"
    result.parent.mkdir(parents=True)
    result.write_bytes(b"\x00\x00\x00\x18ftypmp42 a finished render")
    api_port = free_port()
    with (
        running_server(tmp_path, port=api_port, env={"KALINSKY_AUTO_REINDEX": "false", "KALINSKY_API_TOKEN": token}),
        running_nginx(tmp_path / "nginx", api_port=api_port, frontend=REPO_FRONTEND, output_parent=tmp_path,
                      port=free_port()) as url,
    ):
        for headers in ({}, {"Authorization": "Bearer not-the-token-0123456789"}, {"Cookie": "kalinsky_token=x"}):
            for path in ("/output/asm_001/result.mp4", "/api/v1/assemblies"):
                reply = fetch(url, path, headers=headers)
                assert reply.status == 401, (path, headers, reply.status)
                assert "token" in json.loads(reply.body)["detail"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert fetch(url, "/output/asm_001/result.mp4", headers=bearer).body == result.read_bytes()
        cookie = fetch(url, "/output/asm_001/result.mp4", headers={"Cookie": f"kalinsky_token={token}"})
        assert cookie.status == 200 and cookie.body == result.read_bytes()
        assert fetch(url, "/output/asm_001/missing.mp4", headers=bearer).status == 404
        assert fetch(url, "/api/v1/assemblies", headers=bearer).status == 200
        assert fetch(url, "/").status == 200 and fetch(url, "/api.js").status == 200  # the page asks for it


def test_events_stream_through_nginx_unbuffered(stack: Stack) -> None:
    """The stream's first event arrives at once: nginx must not hold it back to fill a buffer."""
    import time

    import httpx

    started = time.monotonic()
    with httpx.stream("GET", f"{stack.url}/api/v1/events", timeout=10) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "event: ready"
    assert time.monotonic() - started < 5

"""Hostile and sloppy requests: deep nesting, NUL bytes, loose types and content types, foreign Hosts, the API
token, the headers every answer carries, and the list's paging parameters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from webapp import settings_for, wait_done

from kalinsky_web.app import create_app

JSON = {"Content-Type": "application/json"}
TOKEN = "s3cret-token-0123456789"


def test_json_nested_a_thousand_deep_is_400_with_a_detail(client: TestClient) -> None:
    for body in (
        b'{"clips":' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"clips": [{"source": 1}], "name": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b"[" * 1000 + b"]" * 1000,
    ):
        assert len(body) <= 2100
        response = client.post("/api/v1/assemblies", content=body, headers=JSON)
        assert response.status_code == 400, response.text
        assert "Expected" in response.json()["detail"]
    assert client.get("/api/v1/assemblies").json() == []


@pytest.mark.parametrize("path", ["/app.js%00", "/output/asm_001/result.mp4%00.txt", "/index.html%00",
                                  "/api/v1/assemblies/asm_001%00", "/api/v1/sources/1/media%00"])
def test_a_nul_byte_in_a_path_is_404_not_500(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("clip", "where", "expected"),
    [
        ({"source": 1, "start": "1"}, "$.clips[0].start", "float"),
        ({"source": 1, "end": "2.5"}, "$.clips[0].end", "float"),
        ({"source": 1.0}, "$.clips[0].source", "int | str"),
        ({"source": True}, "$.clips[0].source", "int | str"),
    ],
)
def test_strings_are_not_numbers_and_floats_are_not_indices(
    client: TestClient, clip: dict, where: str, expected: str
) -> None:
    response = client.post("/api/v1/assemblies", json={"clips": [clip]})
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert where in detail and expected in detail, detail
    assert client.get("/api/v1/assemblies").json() == []


def test_other_field_errors_name_what_is_wrong_and_where(client: TestClient) -> None:
    cases = {
        '{"clips": [{"source": 1}], "preview": "yes"}': "Expected `bool`, got `str` - at `$.preview`",
        '{"clips": [{"source": 1, "x": 1}]}': "unknown field `x` - at `$.clips[0]`",
        '{"clips": "a.mp4"}': "Expected `array`, got `str` - at `$.clips`",
        '{"name": "x"}': "missing required field `clips`",
        '{"clips": [{"source": 1}], "name": "a\\u0000b"}': "at `$.name`",  # no database can store a NUL
        '{"clips": [': "Malformed JSON",
    }
    for body, expected in cases.items():
        response = client.post("/api/v1/assemblies", content=body, headers=JSON)
        assert response.status_code == 400 and expected in response.json()["detail"], (body, response.text)


def test_json_endpoints_want_application_json_and_bodyless_posts_need_no_type(client: TestClient) -> None:
    body = b'{"clips": [{"source": 1, "end": 1}]}'
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}):
        response = client.post("/api/v1/assemblies", content=body, headers=headers)
        assert response.status_code == 415, (headers, response.text)
        assert "application/json" in response.json()["detail"]
    assert client.get("/api/v1/assemblies").json() == []

    with_charset = client.post(
        "/api/v1/assemblies", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert with_charset.status_code == 202, with_charset.text
    assert client.post("/api/v1/sources/reindex").status_code == 200
    cancel = client.post(f"/api/v1/assemblies/{with_charset.json()['id']}/cancel")
    assert cancel.status_code in {200, 409}, cancel.text


@pytest.mark.parametrize("host", ["evil.example", "rebind.attacker.net:8000", "127.0.0.2", "localhost.evil.example"])
def test_a_foreign_host_is_400(client: TestClient, host: str) -> None:
    for path in ("/api/v1/assemblies", "/", "/api/v1/sources/1/media", "/output/asm_001/result.mp4"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 400, (path, response.text)
        assert "KALINSKY_ALLOWED_HOSTS" in response.json()["detail"]


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "app.localhost",
                                  "testserver.local"])
def test_local_names_are_answered(client: TestClient, host: str) -> None:
    assert client.get("/api/v1/assemblies", headers={"Host": host}).status_code == 200


def app_client(tmp_path: Path, **settings: object) -> TestClient:
    return TestClient(app=create_app(settings_for(tmp_path, **settings)))


def test_allowed_hosts_add_names_and_a_star_allows_any(tmp_path: Path, sources_dir: Path) -> None:
    with app_client(tmp_path, allowed_hosts=("testserver.local", "kalinsky.lan", "*.example.org")) as client:
        for host, status in (("kalinsky.lan", 200), ("kalinsky.lan:80", 200), ("media.example.org", 200),
                             ("example.org", 400), ("other.lan", 400), ("localhost", 200)):
            assert client.get("/api/v1/assemblies", headers={"Host": host}).status_code == status, host
    with app_client(tmp_path, allowed_hosts=("*",)) as client:
        assert client.get("/api/v1/assemblies", headers={"Host": "anything.example"}).status_code == 200


@pytest.fixture
def token_client(tmp_path: Path, sources_dir: Path) -> Iterator[TestClient]:
    with app_client(tmp_path, api_token=TOKEN) as client:
        yield client


def test_with_a_token_every_api_and_media_request_needs_it(token_client: TestClient) -> None:
    client = token_client
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in (("GET", "/api/v1/assemblies"), ("GET", "/api/v1/sources"), ("POST", "/api/v1/sources/reindex"),
                         ("GET", "/api/v1/sources/1/media"), ("GET", "/api/v1/sources/1/thumbnail"),
                         ("GET", "/output/asm_001/result.mp4"), ("GET", "/api/schema/openapi.json")):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert "token" in response.json()["detail"] and response.headers["www-authenticate"].startswith("Bearer")

    created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 1}]}, headers=bearer)
    assert created.status_code == 202, created.text
    assert client.get("/api/v1/sources", headers=bearer).status_code == 200
    assert client.get("/api/v1/sources/1/thumbnail", headers=bearer).status_code == 200

    # the page itself stays open: it asks for the token
    assert client.get("/").status_code == 200 and client.get("/api.js").status_code == 200


def test_media_accept_the_token_as_the_uis_cookie_and_only_media(token_client: TestClient) -> None:
    client = token_client
    client.cookies.set("kalinsky_token", TOKEN)
    assert client.get("/api/v1/sources/1/media", headers={"Range": "bytes=0-9"}).status_code == 206
    assert client.get("/api/v1/sources/1/thumbnail").status_code == 200
    assert client.get("/api/v1/sources/1/filmstrip").status_code == 200  # the trim bar's <img>
    # the cookie is for what <video>/<img>/EventSource load, not for the API
    assert client.get("/api/v1/assemblies").status_code == 401
    assert client.post("/api/v1/sources/reindex").status_code == 401
    client.cookies.set("kalinsky_token", "wrong-token-0123456789")
    assert client.get("/api/v1/sources/1/media").status_code == 401
    assert client.get("/api/v1/sources/1/filmstrip").status_code == 401


def test_without_a_token_nothing_asks_for_one(client: TestClient) -> None:
    assert client.get("/api/v1/assemblies").status_code == 200
    assert client.get("/api/v1/sources/1/thumbnail").status_code == 200


def test_answers_carry_csp_nosniff_and_no_framing(client: TestClient) -> None:
    for path in ("/", "/index.html", "/app.js", "/api/v1/assemblies", "/api/v1/assemblies/asm_404",
                 "/api/v1/sources/1/thumbnail"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp, path
        assert "media-src 'self' blob:" in csp and "style-src 'self'" in csp
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path


def test_the_page_has_no_inline_script_or_style() -> None:
    html = (Path(__file__).resolve().parents[2] / "frontend" / "index.html").read_text()
    assert "<style" not in html and " style=" not in html and " on" not in html.replace(" one", "")
    for script in html.split("<script")[1:]:
        assert "src=" in script.split(">")[0] and script.split(">", 1)[1].startswith("</script"), script[:80]


def created(client: TestClient, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        response = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.2}]})
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def test_the_list_pages_and_filters_in_the_database(client: TestClient) -> None:
    ids = created(client, 5)
    for assembly_id in ids:
        wait_done(client, assembly_id)
    cancelled = created(client, 1)[0]
    client.post(f"/api/v1/assemblies/{cancelled}/cancel")
    newest_first = [cancelled, *reversed(ids)]

    everything = client.get("/api/v1/assemblies")
    assert [a["id"] for a in everything.json()] == newest_first
    assert everything.headers["x-total-count"] == "6"
    page = client.get("/api/v1/assemblies", params={"limit": 2, "offset": 1})
    assert [a["id"] for a in page.json()] == newest_first[1:3] and page.headers["x-total-count"] == "6"
    assert [a["id"] for a in client.get("/api/v1/assemblies", params={"offset": 5}).json()] == newest_first[5:]
    assert client.get("/api/v1/assemblies", params={"offset": 6}).json() == []
    done = client.get("/api/v1/assemblies", params={"status": "done", "limit": 3})
    assert [a["id"] for a in done.json()] == newest_first[1:4] and done.headers["x-total-count"] == "5"
    assert [a["id"] for a in client.get("/api/v1/assemblies", params={"status": "cancelled"}).json()] == [cancelled]
    assert client.get("/api/v1/assemblies", params={"status": "processing"}).json() == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "x"}, "limit"), ({"offset": -1}, "offset"),
     ({"offset": 2**70}, "offset"), ({"status": "finished"}, "status"), ({"status": ""}, "status")],
)
def test_bad_list_parameters_are_400_naming_the_parameter(client: TestClient, params: dict, field: str) -> None:
    response = client.get("/api/v1/assemblies", params=params)
    assert response.status_code == 400, response.text
    assert f"`{field}`" in response.json()["detail"], response.text


def test_the_list_parameters_are_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/api/schema/openapi.json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/assemblies"]["get"]["parameters"]}
    assert "'maximum': 1000" in str(parameters["limit"]) and "'minimum': 1" in str(parameters["limit"])
    refs = [part for part in str(parameters["status"]).split("'") if part.startswith("#/components/schemas/")]
    status_schema = schema["components"]["schemas"][refs[0].rsplit("/", 1)[1]]
    assert set(status_schema["enum"]) == {"processing", "done", "failed", "cancelled"}
    assert "offset" in parameters


def test_media_access_tells_a_proxy_whether_media_may_be_served(token_client: TestClient, client: TestClient) -> None:
    assert token_client.get("/api/v1/media-access").status_code == 401
    assert token_client.get("/api/v1/media-access", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 204
    token_client.cookies.set("kalinsky_token", TOKEN)
    assert token_client.get("/api/v1/media-access").status_code == 204
    assert client.get("/api/v1/media-access").status_code == 204  # no token set: media are open

"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis), against the real
server: no input may cause a 5xx, and every answer (status, content type, body) must be one the document
promises; malformed input must be refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from server import Server, http_json

TOKEN = "fuzz-token-0123456789abcdef"


@pytest.fixture(scope="module", params=[{}, {"Authorization": f"Bearer {TOKEN}"}], ids=["open", "with-token"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, media_library: Path
) -> Iterator[tuple[schemathesis.BaseSchema, dict[str, str]]]:
    headers: dict[str, str] = request.param
    workdir = tmp_path_factory.mktemp("fuzz")
    (workdir / "sources").mkdir()
    for name in ("a.mp4", "b.mov"):
        (workdir / "sources" / name).write_bytes((media_library / name).read_bytes())
    env = {"KALINSKY_PREVIEW_HEIGHT": "64", **({"KALINSKY_API_TOKEN": TOKEN} if headers else {})}
    server = Server(workdir, env=env)
    try:
        # something to find: an assembly, so ids and /cancel meet real records too
        status, _ = http_json(
            "POST", f"{server.url}/api/v1/assemblies", {"clips": [{"source": 1, "end": 0.5}]}, headers=headers
        )
        assert status == 202
        yield schemathesis.openapi.from_url(f"{server.url}/api/schema/openapi.json", headers=headers), headers
    finally:
        server.stop()


def test_api_answers_every_request_as_documented(api: tuple[schemathesis.BaseSchema, dict[str, str]]) -> None:
    schema, headers = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    listing = next(op for op in operations if op.method.upper() == "GET" and op.path == "/api/v1/assemblies")
    assert {"limit", "offset", "status"} <= {parameter.name for parameter in listing.query}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case) -> None:
            # Every check but one: a request the schema allows may still name a source that does not exist or
            # trim past a source's end, which only the index can tell: 422 is right for those.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        answers_as_documented()

"""The compose file's `farm` profile without a Docker engine: PostgreSQL and render workers beside the API, what
deploy/.env.example's farm lines make of the api service, and the default stack left as it was (SQLite, the API
rendering in-process).

Values are resolved the way compose does it: deploy/.env's assignments (each may use the ones before it), then
`${NAME}` and `${NAME:-default}` in the compose file."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from urllib.parse import urlsplit

import pytest
from test_deploy_files import DEPLOY, binds, compose

ENV_EXAMPLE = DEPLOY / ".env.example"
FARM = "farm"
#: Settings only the API has: the web side (proxy, Host names, token) and its own number of renders.
API_ONLY = {"FORWARDED_ALLOW_IPS", "KALINSKY_ALLOWED_HOSTS", "KALINSKY_API_TOKEN", "KALINSKY_WORKERS"}
_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-)(?P<default>[^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """`value` with `${NAME}` and `${NAME:-default}` replaced as compose does; any other `$` form fails the test,
    so that the file does not use a syntax these tests do not follow."""

    def one(match: re.Match[str]) -> str:
        found = env.get(match["name"], "")
        return found if found or match["op"] is None else interpolate(match["default"], env)

    replaced = _REFERENCE.sub(one, value)
    assert "$" not in _REFERENCE.sub("", value), f"unsupported interpolation in {value!r}"
    return replaced


def dotenv(lines: list[str]) -> dict[str, str]:
    """`NAME=value` lines as compose reads deploy/.env: in order, each value interpolated with the ones before."""
    env: dict[str, str] = {}
    for line in lines:
        name, value = line.split("=", 1)
        env[name.strip()] = interpolate(value.strip(), env)
    return env


def env_example(*, farm: bool) -> dict[str, str]:
    """deploy/.env.example as copied to deploy/.env: its active lines, and with `farm` the farm lines uncommented."""
    text = ENV_EXAMPLE.read_text()
    marker = re.search(r"^# Render farm\b.*$", text, flags=re.MULTILINE)
    assert marker, "deploy/.env.example has no '# Render farm' block"
    active = re.findall(r"^([A-Z][A-Z0-9_]*=\S*)\s*$", text, flags=re.MULTILINE)
    farm_lines = re.findall(r"^#\s*([A-Z][A-Z0-9_]*=\S*)\s*$", text[marker.end():], flags=re.MULTILINE)
    assert farm_lines, "the farm block of deploy/.env.example has no commented-out NAME=value lines"
    return dotenv(active + (farm_lines if farm else []))


def resolved_environment(service: str, env: Mapping[str, str]) -> dict[str, str]:
    return {name: interpolate(str(value), env) for name, value in compose()["services"][service]["environment"].items()}


def command_words(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(word) for word in value]


def seconds(duration: str) -> float:
    """A compose duration (`30s`, `1m30s`, `2m`) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    assert parts and "".join(number + unit for number, unit in parts) == duration, duration
    return sum(float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit] for number, unit in parts)


def test_the_farm_profile_holds_the_workers_and_postgres_and_the_default_stack_is_unchanged() -> None:
    services = compose()["services"]
    assert set(services) == {"api", "nginx", "worker", "postgres"}
    profiles = {name: service.get("profiles") for name, service in services.items()}
    assert profiles == {"api": None, "nginx": None, "worker": [FARM], "postgres": [FARM]}


def test_only_nginx_publishes_a_port() -> None:
    services = compose()["services"]
    published = {name for name, service in services.items() if "ports" in service or "expose" in service}
    assert published == {"nginx"}
    assert not any("network_mode" in service for service in services.values())


def test_no_service_of_the_default_stack_needs_a_farm_service() -> None:
    """Compose refuses the whole file when a service without a profile depends on one whose profile is off, unless
    that dependency is `required: false`: `up -d` without the profile must still work."""
    services = compose()["services"]
    for name, service in services.items():
        if service.get("profiles"):
            continue
        depends_on = service.get("depends_on", {})
        for dependency in depends_on:
            if services[dependency].get("profiles"):
                assert isinstance(depends_on, dict) and depends_on[dependency].get("required") is False, (
                    f"{name} depends on {dependency}, which only the {FARM} profile starts"
                )


def test_the_api_waits_for_postgres_in_the_farm() -> None:
    dependency = compose()["services"]["api"]["depends_on"]["postgres"]
    assert dependency == {"condition": "service_healthy", "required": False}


def test_workers_run_kalinsky_worker_after_postgres_with_a_liveness_healthcheck() -> None:
    worker = compose()["services"]["worker"]
    assert command_words(worker["command"]) == ["kalinsky", "worker"]
    check = worker["healthcheck"]
    assert check["test"][0] == "CMD" and check["test"][1:] == ["kalinsky", "worker", "--check"]
    # `--check` looks at the last 30 s: a few tries of it before the container counts as unhealthy.
    assert seconds(check["interval"]) <= 30 and check["retries"] >= 2
    assert worker["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    # On stop a worker hands back or finishes its renders within about 10 s.
    assert seconds(worker["stop_grace_period"]) >= 20
    assert worker["restart"] == "unless-stopped" and worker["init"] is True


def test_workers_share_the_apis_image_folders_and_settings() -> None:
    services = compose()["services"]
    api, worker = services["api"], services["worker"]
    assert (worker["image"], worker["build"]) == (api["image"], api["build"])
    assert binds("worker") == binds("api")
    assert "entrypoint" not in worker  # the image's: the schema is migrated before `kalinsky worker` starts
    shared = {name: value for name, value in api["environment"].items() if name not in API_ONLY}
    assert worker["environment"] == shared
    assert "KALINSKY_DATABASE_URL" in shared and "KALINSKY_QUEUE_URL" in shared


@pytest.mark.parametrize("service", ["api", "worker"])
def test_settings_are_passed_through_under_their_own_names(service: str) -> None:
    for name, value in compose()["services"][service]["environment"].items():
        if name.startswith("KALINSKY_"):
            assert re.fullmatch(rf"\$\{{{name}:-[^}}]*\}}", str(value)), f"{service}: {name}: {value!r}"


def test_postgres_keeps_its_data_in_a_named_volume_and_has_a_healthcheck() -> None:
    spec = compose()
    postgres = spec["services"]["postgres"]
    assert re.fullmatch(r"postgres:\d+(-alpine)?", postgres["image"]), postgres["image"]
    assert int(postgres["image"].split(":")[1].split("-")[0]) < 18  # 18 moved the data to /var/lib/postgresql
    volume, target = postgres["volumes"][0].split(":")
    assert len(postgres["volumes"]) == 1 and target == "/var/lib/postgresql/data"
    assert volume in spec["volumes"] and not volume.startswith((".", "/"))  # named, not a folder of the repository

    env = postgres["environment"]
    check = postgres["healthcheck"]["test"]
    assert check[0] == "CMD" and check[1] == "pg_isready"
    options = dict(zip(check[2::2], check[3::2], strict=True))
    assert options == {"-h": "127.0.0.1", "-U": env["POSTGRES_USER"], "-d": env["POSTGRES_DB"]}
    assert re.fullmatch(r"\$\{KALINSKY_PG_PASSWORD:-[^}]+\}", env["POSTGRES_PASSWORD"])
    assert postgres["restart"] == "unless-stopped"


def test_the_farm_lines_of_env_example_make_the_api_the_farms_on_postgres() -> None:
    env = env_example(farm=True)
    assert env["COMPOSE_PROFILES"] == FARM  # every compose command then includes the farm's services
    services = compose()["services"]
    api = resolved_environment("api", env)
    worker = resolved_environment("worker", env)
    postgres = resolved_environment("postgres", env)

    assert api["KALINSKY_WORKERS"] == "0"
    url = urlsplit(api["KALINSKY_DATABASE_URL"])
    assert url.scheme == "postgresql"
    assert url.hostname == "postgres" and url.hostname in services and url.port == 5432
    assert (url.username, url.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    assert url.path == "/" + postgres["POSTGRES_DB"]
    assert postgres["POSTGRES_PASSWORD"] != "kalinsky"  # the farm lines set a password of their own
    assert re.fullmatch(r"[A-Za-z0-9-]+", url.password or ""), "the example password must need no URL escaping"
    # The queue follows the database; the workers use exactly the API's records and queue.
    assert api["KALINSKY_QUEUE_URL"] == ""
    assert worker["KALINSKY_DATABASE_URL"] == api["KALINSKY_DATABASE_URL"]
    assert worker["KALINSKY_QUEUE_URL"] == api["KALINSKY_QUEUE_URL"]
    assert "KALINSKY_WORKERS" not in worker  # 0 is the API's: a worker renders


@pytest.mark.parametrize("source", ["no deploy/.env", "deploy/.env from .env.example, farm lines left out"])
def test_without_the_farm_lines_the_api_keeps_sqlite_and_renders_itself(source: str) -> None:
    env = {} if source == "no deploy/.env" else env_example(farm=False)
    assert "COMPOSE_PROFILES" not in env
    api = resolved_environment("api", env)
    assert api["KALINSKY_DATABASE_URL"] == ""  # the SQLite file in KALINSKY_DATA_DIR
    assert api["KALINSKY_QUEUE_URL"] == ""
    assert api["KALINSKY_WORKERS"] == ""  # KALINSKY_MAX_RENDERS

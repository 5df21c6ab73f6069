"""Running deploy/nginx.conf in a real nginx on this machine, in front of a real `kalinsky serve`.

The configuration is the deployed file with only addresses and paths rewritten: the container paths of
docker-compose.yml become temporary folders and the `api` service a loopback port. Every rewrite must
match exactly once, so a change to nginx.conf that a rewrite no longer fits fails here instead of
leaving the test on a configuration that differs from the deployed one.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX_CONF = DEPLOY / "nginx.conf"

#: Paths and addresses of docker-compose.yml as nginx.conf names them.
API_ADDRESS = "http://api:8000"
FRONTEND_ROOT = "/usr/share/nginx/html"
OUTPUT_PARENT = "/srv"  # `root` of /output/: the output volume is mounted at /srv/output


def nginx_binary() -> str:
    """The nginx executable; fails with what to install when there is none (CI installs Debian's `nginx`)."""
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
    )
    if found is None:
        raise RuntimeError("nginx is not installed: `apt-get install nginx` (.ci/run installs it)")
    return found


def _replace_once(text: str, pattern: str, replacement: str) -> str:
    new_text, count = re.subn(pattern, lambda _match: replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise AssertionError(f"deploy/nginx.conf: expected exactly one match of {pattern!r}, found {count}")
    return new_text


def local_config(conf: str, *, workdir: Path, port: int, api_port: int, frontend: Path, output_parent: Path) -> str:
    """`conf` (deploy/nginx.conf) for a local nginx listening on 127.0.0.1:`port`, its files under `workdir`."""
    # Workers as root when the master is root (pytest's temporary folders are private to their owner),
    # otherwise no `user` at all: nginx cannot switch users then.
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = _replace_once(conf, r"^user \S+;$", user)
    conf = _replace_once(conf, r"^pid \S+;$", f"pid {workdir / 'nginx.pid'};")
    conf = _replace_once(conf, r"access_log /dev/stdout;", f"access_log {workdir / 'access.log'};")
    conf = _replace_once(conf, r"listen 80;", f"listen 127.0.0.1:{port};")
    conf = _replace_once(conf, re.escape(API_ADDRESS) + ";", f"http://127.0.0.1:{api_port};")
    conf = _replace_once(conf, rf"root {re.escape(FRONTEND_ROOT)};", f"root {frontend};")
    conf = _replace_once(conf, rf"root {re.escape(OUTPUT_PARENT)};", f"root {output_parent};")
    # Debian's compiled-in temporary folders are root's: keep them in the work folder too.
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp_paths = "".join(f"    {kind}_temp_path {workdir / 'temp' / kind};\n" for kind in kinds)
    return _replace_once(conf, r"^http \{\n", "http {\n" + temp_paths)


@attrs.frozen
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def fetch(base_url: str, path: str, method: str = "GET", headers: dict[str, str] | None = None,
          body: bytes | None = None) -> Reply:
    """One request with `path` sent exactly as given (no normalisation, so `..` and `%2e` reach nginx)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, {name.lower(): value for name, value in response.getheaders()}, response.read())
    finally:
        connection.close()


@contextlib.contextmanager
def running_nginx(workdir: Path, *, api_port: int, frontend: Path, output_parent: Path, port: int) -> Iterator[str]:
    """deploy/nginx.conf served by nginx on 127.0.0.1:`port`; yields the base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "temp").mkdir(exist_ok=True)
    conf_file = workdir / "nginx.conf"
    conf_file.write_text(
        local_config(NGINX_CONF.read_text(), workdir=workdir, port=port, api_port=api_port, frontend=frontend,
                     output_parent=output_parent)
    )
    # -e: the error log of startup, before the configuration is read (Debian's default is root's).
    argv = [nginx_binary(), "-p", str(workdir), "-c", str(conf_file), "-e", str(workdir / "error.log")]
    checked = subprocess.run([*argv, "-t"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx rejects the configuration:\n{checked.stderr}")
    log = open(workdir / "nginx.log", "ab")
    process = subprocess.Popen([*argv, "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited with {process.returncode}: {(workdir / 'nginx.log').read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("nginx did not start listening")
            time.sleep(0.05)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

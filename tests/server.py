"""Starting the real `kalinsky serve` process for end-to-end, browser and deploy tests."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

KALINSKY = str(Path(sys.executable).with_name("kalinsky"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(
    method: str, url: str, body: object | None = None, timeout: float = 30, headers: dict[str, str] | None = None
) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for_assembly(base_url: str, assembly_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, assembly = http_json("GET", f"{base_url}/api/v1/assemblies/{assembly_id}")
        if assembly["status"] != "processing":
            return assembly
        time.sleep(0.2)
    raise TimeoutError(f"{assembly_id} still processing after {timeout} s")


def until(condition, timeout: float = 60, every: float = 0.05):
    """What `condition()` returns once it is true, asked every `every` seconds; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


class Server:
    """A `kalinsky serve` process in `workdir` (its sources/, output/, data/ are the defaults)."""

    def __init__(
        self, workdir: Path, env: dict[str, str] | None = None, port: int | None = None, max_file_bytes: int = 0
    ) -> None:
        """`max_file_bytes`: no file the server (or its ffmpeg) writes may grow past this, as on a full disk."""
        self.workdir = workdir
        for attempt in range(3):
            self.port = port or free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            log_path = workdir / "server.log"
            self._log_start = log_path.stat().st_size if log_path.exists() else 0
            with open(log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [KALINSKY, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                    cwd=workdir,
                    env={**os.environ, **(env or {})},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: a test can kill it with its ffmpegs
                    preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes)))
                    if max_file_bytes else None,
                )
            try:
                self._wait_ready()
                return
            except RuntimeError:
                # the port picked was taken meanwhile by another test's process: pick another
                if port is not None or attempt == 2 or "address already in use" not in self._own_log():
                    raise

    def _wait_ready(self) -> None:
        """Until this process listens and answers. Another process may hold the port (a free port is only free
        when it is picked): what answers there counts only once this server's own log says it listens on it."""
        deadline = time.monotonic() + 60
        listening = f"Uvicorn running on {self.url}"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log()}")
            if listening in self._own_log():
                try:
                    urllib.request.urlopen(f"{self.url}/api/v1/assemblies", timeout=2).close()
                    return
                except urllib.error.HTTPError:
                    return  # it answers (e.g. 401: an API token is set)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server did not start: {self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")

    def _own_log(self) -> str:
        """What this process has logged (server.log is shared by the servers a test starts in one folder)."""
        with open(self.workdir / "server.log", "rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")

    def stop(self, timeout: float = 30) -> float:
        """SIGTERM, as a service manager stops it; the seconds it took to exit."""
        started = time.monotonic()
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL to the server and every process it started, as a crash or power cut would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextlib.contextmanager
def running_server(workdir: Path, env: dict[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    """`kalinsky serve` in `workdir` (its sources/, output/, data/ are the defaults); yields the base URL."""
    server = Server(workdir, env, port)
    try:
        yield server.url
    finally:
        if server.process.poll() is None:
            server.stop(timeout=15)

"""Settings from `KALINSKY_*` environment variables. A bad value stops startup with a message naming it."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import attrs

from kalinsky_adapters.store.urls import normalise, sqlite_url

PREFIX = "KALINSKY_"
#: The segment cache's default bound, unless a tenth of the disk is less.
DEFAULT_CACHE_BYTES = 5 * 1000**3
_UNITS = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


#: Values of KALINSKY_LOG_FORMAT.
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the environment variable."""


def _default_max_renders() -> int:
    # One ffmpeg already keeps two cores busy; a second render at once only pays off from 4 cores up.
    return 1 if (os.cpu_count() or 1) < 4 else 2


@attrs.frozen
class Settings:
    sources_dir: Path = Path("sources")
    output_dir: Path = Path("output")
    data_dir: Path = Path("data")
    db_path: Path = Path("data/kalinsky.db")
    #: Where the records live, if not in the SQLite file at `db_path`: a `postgresql://` (or `sqlite:///`) URL.
    database_url: str | None = None
    ffmpeg_bin: str | None = None
    ffprobe_bin: str | None = None
    audio_fade_ms: int = 50
    audio_codec: str = "aac"
    audio_bitrate: str = "128k"
    auto_reindex: bool = True
    max_renders: int = attrs.field(factory=_default_max_renders)
    preview_height: int = 720
    preview_proxies: bool = True
    cache_size: int | None = None  # bytes of segment cache; None: 5 GB or a tenth of the data disk, the smaller

    def sqlalchemy_url(self) -> str:
        """The records' database as a SQLAlchemy URL: `database_url` in its async driver's dialect, or else the
        SQLite file at `db_path`."""
        if self.database_url is None:
            return sqlite_url(self.db_path)
        try:
            return normalise(self.database_url)
        except ValueError as error:
            raise ConfigError(f"{PREFIX}DATABASE_URL {error}") from error

    def cache_bytes(self) -> int:
        """The segment cache's bound in bytes (0: no cache)."""
        if self.cache_size is not None:
            return self.cache_size
        folder = self.data_dir if self.data_dir.exists() else Path(".")
        return min(DEFAULT_CACHE_BYTES, shutil.disk_usage(folder).total // 10)
    log_format: str = "text"  # or "json": one JSON object per log line
    keep_days: float | None = None  # finished renders older than this are deleted; None keeps them all
    webhook_secret: str | None = None  # signs webhook deliveries (HMAC-SHA256)
    #: Webhooks may go to loopback, link-local, private and other non-global addresses (receivers on the LAN).
    webhook_allow_private: bool = False
    webhook_first_retry: float = 5.0  # seconds before the first retry of a failed delivery; then doubling
    webhook_retry_window: float = 600.0  # retries stop once their delays add up to this
    webhook_timeout: float = 10.0  # seconds one delivery attempt may take
    #: Host names (or `*.domain`, or `*` for any) the web service answers to, besides the local names.
    allowed_hosts: tuple[str, ...] = ()
    #: When set, every API and media request must carry it (`Authorization: Bearer ...`).
    api_token: str | None = None
    #: Seconds a worker's hold on a render lasts unless renewed: how long a dead worker's render waits for another.
    lease_seconds: float = 20.0
    #: Renders this process runs at once as a worker (`serve`, `worker`); None: `max_renders`; 0: none.
    workers: int | None = None
    #: The job queue that workers on other machines take renders from (SAQ on PostgreSQL); None: the
    #: database's PostgreSQL when it is one, else no queue service (the records are the queue).
    queue_url: str | None = None

    def job_queue_url(self) -> str | None:
        """The job queue's URL, if renders go through one: `queue_url`, else the database's when it is
        PostgreSQL."""
        if self.queue_url is not None:
            return self.queue_url
        if self.database_url is not None and re.match(r"postgres", self.database_url):
            return self.database_url
        return None

    def render_slots(self) -> int:
        """How many renders this process runs at once when it renders (0: it renders none)."""
        return self.max_renders if self.workers is None else self.workers

    def answering_at(self, host: str) -> Settings:
        """These settings for a server bound to `host`: the address it listens on is a name it answers to (not
        the wildcard addresses, which no client sends as its Host)."""
        if host in {"", "0.0.0.0", "::"}:
            return self
        address = f"[{host}]" if ":" in host else host
        return attrs.evolve(self, allowed_hosts=(*self.allowed_hosts, address))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def raw(name: str) -> str | None:
            value = env.get(PREFIX + name)
            return value.strip() if value is not None and value.strip() else None

        def integer(name: str, default: int, minimum: int) -> int:
            value = raw(name)
            if value is None:
                return default
            if not re.fullmatch(r"\d+", value) or int(value) < minimum:
                raise ConfigError(f"{PREFIX}{name} must be a whole number >= {minimum}, got {value!r}")
            return int(value)

        def boolean(name: str, default: bool) -> bool:
            value = raw(name)
            if value is None:
                return default
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ConfigError(f"{PREFIX}{name} must be true or false, got {value!r}")

        def bitrate(name: str, default: str) -> str:
            value = raw(name)
            if value is None:
                return default
            if not re.fullmatch(r"\d+(\.\d+)?[kKM]?", value):
                raise ConfigError(f"{PREFIX}{name} must be a bitrate like 128k, got {value!r}")
            return value

        def codec(name: str, default: str) -> str:
            value = raw(name)
            if value is None:
                return default
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", value):
                raise ConfigError(f"{PREFIX}{name} must be an ffmpeg encoder name like aac, got {value!r}")
            return value

        def size(name: str) -> int | None:
            value = raw(name)
            if value is None:
                return None
            found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKMGT]?)B?", value)
            if not found:
                raise ConfigError(f"{PREFIX}{name} must be a size like 5G, 500M or 0, got {value!r}")
            return int(float(found.group(1)) * _UNITS[found.group(2).upper()])

        def executable(name: str) -> str | None:
            value = raw(name)
            if value is not None and shutil.which(value) is None:
                raise ConfigError(f"{PREFIX}{name} is not an executable program: {value!r}")
            return value

        def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
            value = raw(name)
            if value is None:
                return default
            if value.lower() not in allowed:
                raise ConfigError(f"{PREFIX}{name} must be one of {', '.join(allowed)}, got {value!r}")
            return value.lower()

        def days(name: str) -> float | None:
            value = raw(name)
            if value is None:
                return None
            if not re.fullmatch(r"\d+(\.\d+)?", value) or float(value) <= 0:
                raise ConfigError(f"{PREFIX}{name} must be a number of days > 0, got {value!r}")
            return float(value)
        def host_list(name: str) -> tuple[str, ...]:
            hosts = tuple(host.strip() for host in (raw(name) or "").split(",") if host.strip())
            for host in hosts:
                if host != "*" and not re.fullmatch(r"(\*\.)?[A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\]", host):
                    raise ConfigError(f"{PREFIX}{name} must be host names separated by commas, got {host!r}")
            return hosts

        def token(name: str) -> str | None:
            value = raw(name)
            if value is not None and not re.fullmatch(r"[\x21-\x7e]{16,}", value):
                raise ConfigError(f"{PREFIX}{name} must be at least 16 visible ASCII characters without spaces")
            return value

        def queue(name: str) -> str | None:
            value = raw(name)
            if value is not None and not re.match(r"(postgres|postgresql)://", value):
                raise ConfigError(f"{PREFIX}{name} must be a postgresql:// URL, got {value!r}")
            return value

        def database_url(name: str) -> str | None:
            value = raw(name)
            if value is not None:
                try:
                    normalise(value)
                except ValueError as error:
                    raise ConfigError(f"{PREFIX}{name} {error}") from error
            return value

        data_dir = Path(raw("DATA_DIR") or "data")
        return cls(
            sources_dir=Path(raw("SOURCES_DIR") or "sources"),
            output_dir=Path(raw("OUTPUT_DIR") or "output"),
            data_dir=data_dir,
            db_path=Path(raw("DB_PATH") or data_dir / "kalinsky.db"),
            database_url=database_url("DATABASE_URL"),
            ffmpeg_bin=executable("FFMPEG_BIN"),
            ffprobe_bin=executable("FFPROBE_BIN"),
            audio_fade_ms=integer("AUDIO_FADE_MS", 50, 0),
            audio_codec=codec("AUDIO_CODEC", "aac"),
            audio_bitrate=bitrate("AUDIO_BITRATE", "128k"),
            auto_reindex=boolean("AUTO_REINDEX", True),
            max_renders=integer("MAX_RENDERS", _default_max_renders(), 1),
            preview_height=integer("PREVIEW_HEIGHT", 720, 16),
            preview_proxies=boolean("PREVIEW_PROXIES", True),
            cache_size=size("CACHE_SIZE"),
            log_format=choice("LOG_FORMAT", "text", LOG_FORMATS),
            keep_days=days("KEEP_DAYS"),
            webhook_secret=raw("WEBHOOK_SECRET"),
            webhook_allow_private=boolean("WEBHOOK_ALLOW_PRIVATE", False),
            allowed_hosts=host_list("ALLOWED_HOSTS"),
            api_token=token("API_TOKEN"),
            workers=None if raw("WORKERS") is None else integer("WORKERS", 0, 0),
            lease_seconds=integer("LEASE_SECONDS", 20, 5),
            queue_url=queue("QUEUE_URL"),
        )

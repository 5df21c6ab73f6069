"""Settings from KALINSKY_* variables, and what a bad one does to startup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kalinsky_adapters.settings import ConfigError, Settings


def test_defaults_follow_the_contract() -> None:
    settings = Settings.from_env({})
    assert (settings.sources_dir, settings.output_dir, settings.data_dir) == (
        Path("sources"), Path("output"), Path("data"))
    assert settings.db_path == Path("data/kalinsky.db")
    assert (settings.audio_fade_ms, settings.audio_codec, settings.audio_bitrate) == (50, "aac", "128k")
    assert settings.auto_reindex is True and settings.max_renders >= 1
    assert settings.ffmpeg_bin is None and settings.ffprobe_bin is None
    assert (settings.preview_height, settings.preview_proxies) == (720, True)
    assert settings.log_format == "text"


def test_variables_override_and_db_path_follows_the_data_dir() -> None:
    settings = Settings.from_env({
        "KALINSKY_DATA_DIR": "/srv/data", "KALINSKY_AUTO_REINDEX": "false", "KALINSKY_MAX_RENDERS": "3",
        "KALINSKY_AUDIO_BITRATE": "192k", "KALINSKY_FFMPEG_BIN": sys.executable, "KALINSKY_PREVIEW_PROXIES": "off",
        "KALINSKY_LOG_FORMAT": "JSON",
    })
    assert settings.log_format == "json"
    assert Settings.from_env({}).keep_days is None
    assert Settings.from_env({"KALINSKY_KEEP_DAYS": "0.5"}).keep_days == 0.5
    assert settings.preview_proxies is False
    assert settings.db_path == Path("/srv/data/kalinsky.db")
    assert (settings.auto_reindex, settings.max_renders, settings.audio_bitrate) == (False, 3, "192k")
    assert settings.ffmpeg_bin == sys.executable


@pytest.mark.parametrize(("value", "size"), [("0", 0), ("500M", 500_000_000), ("1.5G", 1_500_000_000),
                                           ("2048", 2048), ("10GB", 10**10)])
def test_the_cache_size_takes_units_and_defaults_to_5_gb_or_a_tenth_of_the_disk(
    value: str, size: int, tmp_path: Path
) -> None:
    assert Settings.from_env({"KALINSKY_CACHE_SIZE": value}).cache_bytes() == size
    default = Settings.from_env({"KALINSKY_DATA_DIR": str(tmp_path)}).cache_bytes()
    assert 0 < default <= 5 * 10**9


@pytest.mark.parametrize(
    ("name", "value"),
    [("AUDIO_FADE_MS", "-5"), ("AUDIO_FADE_MS", "fifty"), ("MAX_RENDERS", "0"), ("AUTO_REINDEX", "maybe"),
     ("AUDIO_BITRATE", "loud"), ("AUDIO_CODEC", "aac; rm"), ("FFMPEG_BIN", "/no/such/ffmpeg"),
     ("PREVIEW_HEIGHT", "1.5"), ("PREVIEW_PROXIES", "sometimes"), ("CACHE_SIZE", "big"), ("CACHE_SIZE", "-1G"),
     ("LOG_FORMAT", "xml"), ("KEEP_DAYS", "0"), ("KEEP_DAYS", "-1"), ("KEEP_DAYS", "a week"),
     ("ALLOWED_HOSTS", "a.lan,ev il"), ("ALLOWED_HOSTS", "http://x.lan"), ("ALLOWED_HOSTS", "a*.lan"),
     ("API_TOKEN", "short"), ("API_TOKEN", "a token with spaces in it")],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"KALINSKY_{name}"):
        Settings.from_env({f"KALINSKY_{name}": value})


def test_allowed_hosts_and_the_api_token_are_read_and_the_bound_address_is_answered() -> None:
    settings = Settings.from_env({"KALINSKY_ALLOWED_HOSTS": " kalinsky.lan, *.example.org ,[fd00::1],",
                                  "KALINSKY_API_TOKEN": "0123456789abcdef"})
    assert settings.allowed_hosts == ("kalinsky.lan", "*.example.org", "[fd00::1]")
    assert settings.api_token == "0123456789abcdef"
    assert Settings.from_env({"KALINSKY_ALLOWED_HOSTS": "*"}).allowed_hosts == ("*",)
    assert (Settings.from_env({}).allowed_hosts, Settings.from_env({}).api_token) == ((), None)
    assert settings.answering_at("192.168.1.10").allowed_hosts[-1] == "192.168.1.10"
    assert settings.answering_at("fd00::2").allowed_hosts[-1] == "[fd00::2]"
    assert settings.answering_at("0.0.0.0") == settings and settings.answering_at("::") == settings


def test_serve_refuses_to_start_with_a_bad_value(tmp_path: Path) -> None:
    kalinsky = str(Path(sys.executable).with_name("kalinsky"))
    result = subprocess.run([kalinsky, "serve", "--port", "0"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "KALINSKY_MAX_RENDERS": "many"}, timeout=60)
    assert result.returncode != 0
    assert "KALINSKY_MAX_RENDERS must be a whole number >= 1, got 'many'" in result.stderr


def test_the_records_are_in_the_sqlite_file_unless_a_database_url_is_given(tmp_path: Path) -> None:
    default = Settings.from_env({"KALINSKY_DB_PATH": str(tmp_path / "k.db")})
    assert default.database_url is None
    assert default.sqlalchemy_url() == f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    for given in ("postgresql://kal:secret@db:5432/kalinsky", "postgres://kal:secret@db:5432/kalinsky",
                  "postgresql+psycopg://kal:secret@db:5432/kalinsky"):
        settings = Settings.from_env({"KALINSKY_DATABASE_URL": given})
        assert settings.database_url == given
        assert settings.sqlalchemy_url() == "postgresql+psycopg://kal:secret@db:5432/kalinsky"


@pytest.mark.parametrize("value", ["mysql://kal@db/kalinsky", "db:5432/kalinsky", "postgresql://kal@db"])
def test_a_database_url_of_no_known_kind_names_its_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="KALINSKY_DATABASE_URL"):
        Settings.from_env({"KALINSKY_DATABASE_URL": value})

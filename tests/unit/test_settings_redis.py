"""The Redis settings: `[redis]` in motia.toml, `MOTIA_REDIS_*` variables, and their order."""

from __future__ import annotations

from pathlib import Path

import pytest

from motia_core.config import Settings, SettingsError


def test_redis_settings_come_from_the_file_then_the_environment(tmp_path: Path) -> None:
    assert (Settings.load(tmp_path, {}).redis_url, Settings.load(tmp_path, {}).redis_prefix) == (
        None, "motia:")
    (tmp_path / "motia.toml").write_text(
        '[storage]\nstate = "redis"\n\n[redis]\nurl = "redis://127.0.0.1:6379/2"\n'
        'prefix = "shop:"\n')
    from_file = Settings.load(tmp_path, {})
    assert (from_file.state, from_file.redis_url, from_file.redis_prefix) == (
        "redis", "redis://127.0.0.1:6379/2", "shop:")
    from_env = Settings.load(tmp_path, {"MOTIA_REDIS_URL": "redis://10.0.0.1:6379",
                                        "MOTIA_QUEUE": "redis"})
    assert (from_env.redis_url, from_env.redis_prefix, from_env.queue) == (
        "redis://10.0.0.1:6379", "shop:", "redis")
    assert from_env.with_overrides({"redis_url": "unix:///tmp/r.sock"}).redis_url == \
        "unix:///tmp/r.sock"


def test_an_unknown_redis_setting_is_named(tmp_path: Path) -> None:
    (tmp_path / "motia.toml").write_text('[redis]\nhost = "127.0.0.1"\n')
    with pytest.raises(SettingsError, match=r"unknown setting 'redis_host'; known: .*redis_url"):
        Settings.load(tmp_path, {})


def test_streams_follow_state_unless_chosen(tmp_path: Path) -> None:
    assert Settings.load(tmp_path, {}).streams_store == "sqlite"
    assert Settings.load(tmp_path, {"MOTIA_STATE": "redis"}).streams_store == "redis"
    (tmp_path / "motia.toml").write_text('[streams]\nstore = "memory"\n')
    chosen = Settings.load(tmp_path, {"MOTIA_STATE": "redis"})
    assert (chosen.state, chosen.streams_store) == ("redis", "memory")
    assert Settings.load(tmp_path, {"MOTIA_STREAMS": "redis"}).streams_store == "redis"


def test_traces_and_logs_go_to_redis_with_state_or_queue_unless_chosen(tmp_path: Path) -> None:
    assert Settings.load(tmp_path, {}).observability_store == "sqlite"
    assert Settings.load(tmp_path, {"MOTIA_QUEUE": "redis"}).observability_store == "redis"
    assert Settings.load(tmp_path, {"MOTIA_STATE": "redis",
                                    "MOTIA_OBSERVABILITY": "off"}).observability_store == "off"

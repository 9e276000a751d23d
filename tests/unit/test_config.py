"""chatops.yaml: validated at start, with messages that name the key and the file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_config, parse_config


def test_variables_expand_from_the_environment() -> None:
    cfg = parse_config('databases: {main: {dsn: "${DSN}"}}', env={"DSN": "postgresql://u:p@h/db"})
    assert cfg.databases["main"].dsn == "postgresql://u:p@h/db"


def test_missing_variable_names_the_key_and_file() -> None:
    with pytest.raises(
        ConfigError, match=r"^conf.yaml: databases.main.dsn: environment variable DSN is not set"
    ):
        parse_config('databases: {main: {dsn: "${DSN}"}}', file="conf.yaml", env={})


def test_unknown_key_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"clusters.prod.contxt: unknown key"):
        parse_config("clusters: {prod: {contxt: prod}}")


def test_wrong_type_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"limits.scale.max: Input should be a valid integer"):
        parse_config("limits: {scale: {max: lots}}")


@pytest.mark.parametrize(("text", "expected"), [("90s", 90), ("30m", 1800), ("1h", 3600), ("2", 2)])
def test_durations(text: str, expected: int) -> None:
    cfg = parse_config(f"incidents: {{update_every: {text}}}")
    assert cfg.incidents.update_every == timedelta(seconds=expected)


def test_bad_duration_says_how_to_write_one() -> None:
    with pytest.raises(ConfigError, match=r"incidents.update_every: '3 weeks' is not a duration \(use"):
        parse_config("incidents: {update_every: 3 weeks}")


def test_service_must_reference_configured_targets() -> None:
    with pytest.raises(ConfigError, match=r"services.api.database: 'main' is not configured"):
        parse_config("services: {api: {database: main}}")


def test_malformed_yaml_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"^x.yaml: not valid YAML"):
        parse_config("slack: [unclosed", file="x.yaml")


def test_no_file_means_no_targets(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "absent.yaml")
    assert cfg.clusters == {}
    assert cfg.databases == {}
    assert set(cfg.severities) == {"P0", "P1", "P2", "P3"}


def test_default_target_is_the_only_or_the_marked_one() -> None:
    one = parse_config("redis: {cache: {url: 'redis://x'}}")
    assert one.default_target("redis") == "cache"
    two = parse_config("redis: {a: {url: 'redis://x'}, b: {url: 'redis://y', default: true}}")
    assert two.default_target("redis") == "b"
    none = parse_config("redis: {a: {url: 'redis://x'}, b: {url: 'redis://y'}}")
    assert none.default_target("redis") is None


def test_example_config_is_valid() -> None:
    env = {"MAIN_DATABASE_DSN": "postgresql://u:p@h/db", "CACHE_REDIS_URL": "redis://h:6379/0"}
    cfg = load_config(Path(__file__).parents[2] / "chatops.example.yaml", env=env)
    assert "backend" in cfg.services


def test_settings_defaults_and_api_url_slash() -> None:
    s = Settings.model_validate({"SLACK_API_URL": "http://127.0.0.1:9/api"})
    assert s.slack_api_url == "http://127.0.0.1:9/api/"
    assert Settings.model_validate({}).database_url == "sqlite:///chatops.db"

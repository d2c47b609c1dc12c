"""Configuration: YAML defaults, YAML file and environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from merchstore.common.config.errors import ConfigError
from merchstore.common.config.secrets import EXAMPLE_SECRETS
from merchstore.runtime.broker_profile import embedded_broker_environment
from merchstore.settings import load_settings


def test_defaults_come_from_the_packaged_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MERCHSTORE_CONFIG_FILE", raising=False)
    settings = load_settings()
    assert settings.event_logger.port == 8120
    assert settings.topics.event_log == "event_log"
    assert settings.topics.events_partitions == 3
    assert settings.kafka.session_timeout_ms == 10_000


def test_environment_overrides_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    user_file = tmp_path / "mine.yaml"
    user_file.write_text("event_logger:\n  port: 9000\n  group_id: from-yaml\n")
    monkeypatch.setenv("MERCHSTORE_CONFIG_FILE", str(user_file))
    monkeypatch.setenv("MERCHSTORE_EVENT_LOGGER__PORT", "9100")
    monkeypatch.setenv("MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    settings = load_settings()
    assert settings.event_logger.port == 9100
    assert settings.event_logger.group_id == "from-yaml"
    assert settings.bootstrap_servers == "kafka:9092"


def test_bad_value_names_the_key_and_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCHSTORE_EVENT_LOGGER__PORT", "not-a-port")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "event_logger.port" in message
    assert "not-a-port" in message
    assert "MERCHSTORE_EVENT_LOGGER__PORT" in message


def test_unknown_yaml_key_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    user_file = tmp_path / "typo.yaml"
    user_file.write_text("event_loger:\n  port: 9000\n")
    monkeypatch.setenv("MERCHSTORE_CONFIG_FILE", str(user_file))
    with pytest.raises(ConfigError, match="event_loger"):
        load_settings()


def test_missing_config_file_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCHSTORE_CONFIG_FILE", "/nonexistent/merchstore.yaml")
    with pytest.raises(ConfigError, match=r"/nonexistent/merchstore\.yaml"):
        load_settings()


@pytest.mark.parametrize(
    ("environment", "secret", "refused"),
    [
        ("production", "short-but-random-41x", "shorter than 32 bytes"),
        ("production", "change-me-to-a-long-random-string", "example value"),
        ("production", "local-development-secret-change-me", "example value"),
        ("local", "change-me-to-a-long-random-string", "example value"),
    ],
)
def test_weak_or_published_jwt_secrets_are_refused(
    monkeypatch: pytest.MonkeyPatch, environment: str, secret: str | None, refused: str
) -> None:
    monkeypatch.setenv("MERCHSTORE_ENVIRONMENT", environment)
    if secret is not None:
        monkeypatch.setenv("MERCHSTORE_JWT_SECRET", secret)
    with pytest.raises(ConfigError, match=refused):
        load_settings()


@pytest.mark.parametrize("environment", ["local", "production"])
@pytest.mark.parametrize("published", sorted(EXAMPLE_SECRETS))
def test_every_secret_published_in_the_repository_is_refused(
    monkeypatch: pytest.MonkeyPatch, environment: str, published: str
) -> None:
    # deploy/.env.example holds no secret at all (test_compose checks it): what the repository
    # ever published is this list, and each of its values is refused everywhere.
    monkeypatch.setenv("MERCHSTORE_ENVIRONMENT", environment)
    monkeypatch.setenv("MERCHSTORE_JWT_SECRET", published)
    with pytest.raises(ConfigError, match="example value published in the repository"):
        load_settings()


def test_production_without_a_secret_cannot_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCHSTORE_ENVIRONMENT", "production")
    settings = load_settings()  # services that sign nothing start without one
    with pytest.raises(ConfigError, match="jwt_secret is not set"):
        settings.signing_secret()


def test_production_accepts_a_long_random_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCHSTORE_ENVIRONMENT", "production")
    monkeypatch.setenv("MERCHSTORE_JWT_SECRET", "x7" * 20)
    assert load_settings().signing_secret() == "x7" * 20


def test_local_without_a_secret_makes_one_per_data_directory(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path / "a")
    secret = first.signing_secret()
    assert len(secret) >= 48 and secret == first.signing_secret()
    path = tmp_path / "a" / "secrets" / "jwt-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_settings(data_dir=tmp_path / "b").signing_secret() != secret


def test_the_packaged_yaml_is_generated_from_the_settings_that_hold_every_default() -> None:
    from merchstore.common.config.defaults import default_config_file
    from merchstore.settings import render_default_config

    assert default_config_file().read_text() == render_default_config(), (
        "merchstore.yaml is stale: "
        "merchstore config-defaults > src/merchstore/config/merchstore.yaml"
    )


def test_secret_files_are_read_from_the_secrets_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "merchstore_database_url").write_text("postgresql://u:p@db:5432/m\n")
    monkeypatch.setenv("MERCHSTORE_SECRETS_DIR", str(tmp_path))
    assert load_settings().database_dsn == "postgresql://u:p@db:5432/m"


def test_a_nested_setting_is_read_from_its_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "merchstore_kafka__sasl_password").write_text("from-a-file")
    monkeypatch.setenv("MERCHSTORE_SECRETS_DIR", str(tmp_path))
    password = load_settings().kafka.sasl_password
    assert password is not None and password.get_secret_value() == "from-a-file"


def test_an_unreadable_secret_file_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What a container's user meets when the file is not readable by it (the integration test
    # of the CLI reads a real one as another user).
    monkeypatch.setenv("MERCHSTORE_SECRETS_DIR", str(tmp_path))
    from pydantic_settings import SettingsError

    from merchstore.common.config.errors import describe_settings_error

    error = SettingsError('error getting value for field "jwt_secret" from source "X"')
    error.__cause__ = PermissionError(13, "Permission denied")
    line = describe_settings_error(error)
    assert "\n" not in line
    assert f"{tmp_path}/merchstore_jwt_secret (Permission denied)" in line
    assert "compose-secrets" in line


def test_the_embedded_broker_profile_leaves_what_the_user_chose() -> None:
    defaults = load_settings()
    assert defaults.kafka.replace_producer_on_timeout is False, "Apache Kafka's defaults"
    assert defaults.receiver.publish_timeout_ms > 9000, "longer than a broker failover"
    environment = embedded_broker_environment(defaults)
    assert environment["MERCHSTORE_KAFKA__REPLACE_PRODUCER_ON_TIMEOUT"] == "true"
    assert environment["MERCHSTORE_STORAGE__FETCH_WAIT_MAX_MS"] == "20"
    chosen = load_settings(kafka={"session_timeout_ms": 20_000})
    assert "MERCHSTORE_KAFKA__SESSION_TIMEOUT_MS" not in embedded_broker_environment(chosen)

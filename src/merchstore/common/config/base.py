"""The settings every merchstore process reads, where they come from, and how they are loaded.

Precedence, highest first: keyword arguments, ``MERCHSTORE_*`` environment variables
(nested keys joined by ``__``, e.g. ``MERCHSTORE_EVENT_LOGGER__PORT``), secret files as
container runtimes mount them, the YAML file named by ``MERCHSTORE_CONFIG_FILE``, the packaged
``config/merchstore.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from merchstore.common.config.defaults import default_config_file
from merchstore.common.config.errors import (
    ENV_PREFIX,
    ConfigError,
    describe_settings_error,
    describe_unreadable_secret,
    describe_validation_error,
)
from merchstore.common.config.grpc_tls import GrpcTlsSettings
from merchstore.common.config.kafka import KafkaSettings
from merchstore.common.config.secrets import (
    JWT_SECRET_FILE,
    MIN_SECRET_BYTES,
    data_dir_secret,
    refuse_weak_secret,
    secrets_dir,
)
from merchstore.common.config.sections import (
    EmbeddedSettings,
    HttpSettings,
    LogShippingSettings,
    PrometheusSettings,
    SupervisorSettings,
    TopicSettings,
    TracingSettings,
)

CONFIG_FILE_ENV = "MERCHSTORE_CONFIG_FILE"
"""Names the user's own YAML file of settings (it only needs the keys it changes)."""


class CommonSettings(BaseSettings):
    """The settings every process shares; the whole system's add each service's section."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
    )

    environment: Literal["local", "production"] = Field(
        "local",
        description=(
            '"local" makes a random JWT secret per data directory; anything else needs '
            "MERCHSTORE_JWT_SECRET of 32 bytes or more."
        ),
    )
    data_dir: Path = Field(
        Path(".merchstore"),
        description=(
            "Where embedded PostgreSQL, service databases and log files live (MERCHSTORE_DATA_DIR)."
        ),
    )
    kafka_bootstrap_servers: str | None = Field(
        None,
        description=(
            "Unset: `merchstore up` starts the embedded broker "
            "(MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS)."
        ),
    )
    database_url: SecretStr | None = Field(
        None,
        description=(
            "Unset: `merchstore up` starts the embedded PostgreSQL (MERCHSTORE_DATABASE_URL)."
        ),
    )
    # Unset: locally, a random secret kept in the data directory; elsewhere a start-up error.
    jwt_secret: SecretStr | None = None
    logging_config_file: Path | None = Field(
        None, description="Unset: the packaged config/logging.yaml."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    kafka: KafkaSettings = KafkaSettings()
    grpc_tls: GrpcTlsSettings = GrpcTlsSettings()
    http: HttpSettings = HttpSettings()
    topics: TopicSettings = TopicSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    tracing: TracingSettings = TracingSettings()
    log_shipping: LogShippingSettings = LogShippingSettings()

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> CommonSettings:
        if self.jwt_secret is not None:  # unset: only store-api signs, `signing_secret` decides
            refuse_weak_secret(self.jwt_secret.get_secret_value(), self.environment)
        return self

    def signing_secret(self) -> str:
        """The JWT signing secret: the configured one, or locally the data directory's own.

        A local system started without a secret gets a random one, made once per data
        directory (file mode 0600), so no token signed with a published string is accepted.
        """
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self.environment != "local":
            raise ConfigError(
                "jwt_secret is not set: outside local development set MERCHSTORE_JWT_SECRET "
                f"or the secret file merchstore_jwt_secret (at least {MIN_SECRET_BYTES} random "
                "bytes)"
            )
        return data_dir_secret(self.data_path(JWT_SECRET_FILE))

    @property
    def bootstrap_servers(self) -> str:
        """The Kafka bootstrap servers; only ``merchstore up`` may run without them."""
        if not self.kafka_bootstrap_servers:
            raise ConfigError(
                "kafka_bootstrap_servers is not set: run the service through `merchstore up` "
                "or set MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS"
            )
        return self.kafka_bootstrap_servers

    @property
    def database_dsn(self) -> str:
        """The PostgreSQL URL; only ``merchstore up`` may run without it."""
        if self.database_url is None:
            raise ConfigError(
                "database_url is not set: run the service through `merchstore up` "
                "or set MERCHSTORE_DATABASE_URL"
            )
        return self.database_url.get_secret_value()

    def data_path(self, relative: str | Path) -> Path:
        """A path under the data directory (absolute paths are returned unchanged)."""
        path = Path(relative)
        return path if path.is_absolute() else self.data_dir.resolve() / path

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then environment, then the user's YAML, then packaged YAML."""
        yaml_files = [default_config_file()]
        user_file = os.environ.get(CONFIG_FILE_ENV)
        if user_file:
            yaml_files.append(Path(user_file))
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=yaml_files)
        # Secret files (``merchstore_jwt_secret``, ``merchstore_kafka__sasl_password``, ...) as
        # container runtimes mount them; nested keys joined by ``__`` as in the environment.
        folder = secrets_dir()
        secret_files = NestedSecretsSettingsSource(
            SecretsSettingsSource(settings_cls, secrets_dir=folder),
            secrets_prefix=ENV_PREFIX,
            secrets_nested_delimiter="__",
            secrets_dir_missing="ok",  # most processes run outside a container
        )
        sources = [init_settings, env_settings]
        if folder.is_dir():
            sources.append(secret_files)
        return (*sources, yaml_source)


SettingsType = TypeVar("SettingsType", bound=CommonSettings)


def load(settings_class: type[SettingsType], **overrides: Any) -> SettingsType:
    """Load and validate ``settings_class``, raising `ConfigError` with a readable message."""
    user_file = os.environ.get(CONFIG_FILE_ENV)
    if user_file and not Path(user_file).is_file():
        raise ConfigError(f"{CONFIG_FILE_ENV} names {user_file}, which is not a file")
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
    except SettingsError as error:
        raise ConfigError(describe_settings_error(error)) from None
    except OSError as error:  # a secret file the folder lists but this process cannot read
        raise ConfigError(describe_unreadable_secret(error.filename, error)) from None

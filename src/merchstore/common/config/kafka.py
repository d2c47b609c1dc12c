"""How every service talks to Kafka: its clients' behaviour, and who they are on a secured one."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from merchstore.common.config.certificates import check_certificate_file, check_private_key_file
from merchstore.common.config.errors import ConfigError, env_name
from merchstore.common.config.sections import Section

SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_SSL", "SSL")
"""PLAINTEXT on the loopback interface (`merchstore up`); SASL_SSL anywhere else; SSL (a client
certificate) for a deployment's own jobs, as the Compose deployment's ``kafka-init``."""


class KafkaSettings(Section):
    """How every service talks to Kafka."""

    group_membership: bool = Field(
        True,
        description=(
            "Consumers join their group, which shares the partitions among them. Off: a consumer "
            "reads every partition of its topics itself (its group still keeps its offsets), for "
            "a broker that delays every join and one consumer per group: the embedded one."
        ),
    )
    static_membership: bool = Field(
        True,
        description=(
            "Each consumer joins its group under a name of its own (group.instance.id: group, "
            "host and port), so a consumer started again takes its partitions back at once; a "
            "consumer stopped for good holds them until session_timeout_ms has passed."
        ),
    )
    session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        le=300_000,
        description=(
            "How long a consumer that stopped answering keeps its partitions before the group "
            "gives them to another: the pause a crashed consumer causes. Apache Kafka accepts 6000 "
            "to 1800000 (group.min/max.session.timeout.ms)."
        ),
    )
    delivery_timeout_ms: int = Field(
        30_000,
        ge=100,
        description=(
            "How long a produced message may wait for the broker's acknowledgement before it "
            "fails. Longer than a broker failover on a cluster (KRaft fences a dead broker after "
            "about 9 s, then a new leader is elected), so a lost broker delays messages but fails "
            "none."
        ),
    )
    replace_producer_on_timeout: bool = Field(
        False,
        description=(
            "Replace the producer when a delivery times out, as well as on a fatal error. Only for "
            "the embedded broker, which forgets producer ids when it restarts without saying so; "
            "on Apache Kafka a timeout fails that message only, and replacing the producer would "
            "fail every message in flight to healthy partitions too."
        ),
    )
    request_timeout_s: float = Field(10.0, gt=0)
    replication_factor: int = Field(
        1,
        ge=1,
        le=32,
        description=(
            "Copies of every topic the services create (events, event_log, log-channel). 1 on a "
            "single broker; 3 on a cluster, whose min.insync.replicas of 2 then lets acks=all "
            "survive the loss of any one broker. Existing topics with fewer copies are reported."
        ),
    )
    reconnect_backoff_max_ms: int = Field(
        1000,
        ge=100,
        le=60_000,
        description=(
            "The longest a client waits between attempts to reach a broker it lost. Short, so a "
            "restarted broker is used again within about a second (librdkafka's default, 10 s, "
            "left orders waiting in the outbox that long)."
        ),
    )
    stall_after_s: float = Field(
        30.0,
        gt=0,
        description=(
            "A consumer whose every attempt to store what it has read failed this long answers 503"
            " on /health (a quiet topic is not a failure)."
        ),
    )
    fetch_wait_max_ms: int = Field(
        500,
        ge=0,
        le=10_000,
        description=(
            "The longest a consumer's fetch waits for new messages. The embedded broker answers a "
            "waiting fetch only then, so this is its latency floor from produce to consumer (20 "
            "gives a p50 near 10 ms, at the cost of a fetch per idle consumer every 20 ms); Apache"
            " Kafka answers as soon as data arrives, so there the wait costs no latency."
        ),
    )

    security_protocol: Literal["PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        "PLAINTEXT",
        description=(
            "PLAINTEXT: no encryption, no login (the loopback interface of `merchstore up`). "
            "SASL_SSL: TLS, and a login with sasl_username and sasl_password (a secured cluster, "
            "the Compose deployment). SSL: TLS with a client certificate (ssl_certificate_location"
            " and ssl_key_location), as the Compose deployment's kafka-init."
        ),
    )
    sasl_mechanism: Literal["SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="How a SASL_SSL client proves who it is."
    )
    sasl_username: str | None = Field(
        None, description="The Kafka user this process logs in as (SASL_SSL only)."
    )
    sasl_password: SecretStr | None = Field(None, description="That user's password.")
    ssl_ca_location: Path | None = Field(
        None,
        description=(
            "A PEM file of the CA certificates a SASL_SSL broker's certificate must be signed "
            "by. Unset: the system's trusted CAs."
        ),
    )
    ssl_certificate_location: Path | None = Field(
        None, description="SSL only: this client's certificate (PEM), which names who it is."
    )
    ssl_key_location: Path | None = Field(
        None, description="SSL only: this client's private key (PEM, unencrypted)."
    )

    def client_security(self) -> dict[str, str]:
        """The librdkafka settings of this security protocol, its files checked first.

        Raises `ConfigError` with one line naming the setting that is missing, or whose file
        is missing, unreadable, not a certificate or out of its validity.
        """
        if self.security_protocol == "PLAINTEXT":
            return {"security.protocol": "PLAINTEXT"}
        if self.security_protocol == "SSL":
            return self._client_certificate()
        for key, value in (
            ("sasl_username", self.sasl_username),
            ("sasl_password", self.sasl_password),
        ):
            if not value:
                raise ConfigError(
                    f"kafka.{key} is not set: a SASL_SSL client needs it "
                    f"({env_name(('kafka', key))})"
                )
        assert self.sasl_username is not None and self.sasl_password is not None
        config = {
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value(),
        }
        if self.ssl_ca_location is not None:
            check_certificate_file(self.ssl_ca_location, ("kafka", "ssl_ca_location"))
            config["ssl.ca.location"] = str(self.ssl_ca_location)
        return config

    def _client_certificate(self) -> dict[str, str]:
        config = {"security.protocol": "SSL"}
        for key, option in (
            ("ssl_certificate_location", "ssl.certificate.location"),
            ("ssl_key_location", "ssl.key.location"),
            ("ssl_ca_location", "ssl.ca.location"),
        ):
            path = getattr(self, key)
            if path is None:
                if key == "ssl_ca_location":
                    continue
                raise ConfigError(
                    f"kafka.{key} is not set: an SSL client needs it ({env_name(('kafka', key))})"
                )
            if key == "ssl_key_location":
                check_private_key_file(path, ("kafka", key))
            else:
                check_certificate_file(path, ("kafka", key))
            config[option] = str(path)
        return config

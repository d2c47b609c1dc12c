"""store-api's own settings: the ``store_api:`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from merchstore.common.config.sections import ServiceSettings


class StoreApiSettings(ServiceSettings):
    """store-api: the merch store's REST API."""

    port: int = Field(8000, ge=1, le=65535)
    db_service_target: str | None = Field(
        None, description="Unset: <db_service.host>:<db_service.port>."
    )
    rpc_timeout_s: float = Field(5.0, gt=0, description="Deadline of every call to db-service.")
    token_ttl_s: int = Field(3600, ge=60, description="Lifetime of an access token.")
    token_leeway_s: float = Field(
        10.0,
        ge=0,
        le=300,
        description=(
            "How far the clocks of the hosts of store-api replicas may differ: a token is taken"
            " this long before its issue time and after its expiry."
        ),
    )
    product_cache_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description=(
            "How long product answers are kept in memory (0: off). This replica's own orders clear"
            " them at once; orders through other replicas show after at most this long."
        ),
    )
    replica_name: str | None = Field(
        None, description="Shown in the X-Served-By header (default hostname:port)."
    )
    replicas: int = Field(
        1,
        ge=1,
        le=16,
        description=(
            "`merchstore up` only: with more than 1, the replicas listen on port+1, port+2, ... "
            "and an NGINX (when installed) balances over them on port."
        ),
    )

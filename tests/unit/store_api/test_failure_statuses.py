"""store-api's HTTP layer decides the status of every way a db-service call can fail."""

from __future__ import annotations

import grpc

from merchstore.store_api.adapters.db_client import FAILURE_OF_CODE, StoreFailure
from merchstore.store_api.api import HTTP_STATUS


def test_every_failure_has_one_http_status() -> None:
    assert set(HTTP_STATUS) == set(StoreFailure)
    assert HTTP_STATUS[StoreFailure.NOT_FOUND] == 404
    assert HTTP_STATUS[StoreFailure.THROTTLED] == 429
    assert HTTP_STATUS[StoreFailure.UNAVAILABLE] == 503


def test_the_client_speaks_of_failures_not_statuses() -> None:
    assert FAILURE_OF_CODE[grpc.StatusCode.ALREADY_EXISTS] is StoreFailure.TAKEN
    assert FAILURE_OF_CODE[grpc.StatusCode.DEADLINE_EXCEEDED] is StoreFailure.UNAVAILABLE
    assert grpc.StatusCode.INTERNAL not in FAILURE_OF_CODE, "unexpected: a generic 500"

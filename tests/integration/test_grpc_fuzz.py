"""hypothesis over every gRPC method's request messages, through a real channel.

schemathesis reads OpenAPI documents; the gRPC services have protobuf descriptors instead, so
each request message is drawn from its descriptor (every field, any value its type holds: huge
and negative numbers, unknown enum values, long, hostile and non-ASCII texts) and sent to the
running db-service and logging-service. No answer may be INTERNAL or UNKNOWN (an error the
service did not expect), and the service must answer its health check at once after each call
(nothing blocked its loop).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from merchstore.protos import logging_pb2, logging_pb2_grpc, store_pb2, store_pb2_grpc
from tests.conftest import ServiceLauncher

EXAMPLES = int(os.environ.get("MERCHSTORE_FUZZ_EXAMPLES", "20"))
"""Examples per method: 20 in the suite; `make fuzz` runs many more."""
SEED = int(os.environ.get("MERCHSTORE_FUZZ_SEED", "20261206"))
UNEXPECTED = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
CALL_DEADLINE_S = 30.0
"""Generous: a call is slow only while a password hashes; a blocked loop shows in the health
check that follows, whose deadline is short."""

_CHARACTERS = st.characters(exclude_categories=["Cs"])  # protobuf strings are valid UTF-8
_TEXT = st.one_of(
    st.text(_CHARACTERS, max_size=64),
    st.sampled_from(["a@" + "." * 8000 + "@", "\x1b]0;x\x07\n", "' OR 1=1 --", "\u00e9" * 3000]),
    st.text(_CHARACTERS, min_size=300, max_size=3000),
)
_INTEGERS = {
    FieldDescriptor.TYPE_INT64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
}


def _values(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return _TEXT
    if field.type in _INTEGERS:
        # Mostly near the ids that exist, sometimes anywhere the type reaches.
        low = -3 if field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_INT32) else 0
        return st.one_of(st.integers(low, 1100), _INTEGERS[field.type])
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_ENUM:
        # Known values, and numbers the enum does not name (proto3 keeps them).
        assert field.enum_type is not None
        known = [value.number for value in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-5, 1000))
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None
        return messages(field.message_type)
    raise NotImplementedError(f"no strategy for field {field.full_name}")


@st.composite
def _message(draw: st.DrawFn, descriptor: Descriptor) -> Message:
    message_class = _CLASSES[descriptor.full_name]
    message = message_class()
    for field in descriptor.fields:
        if field.is_repeated:
            getattr(message, field.name).extend(draw(st.lists(_values(field), max_size=4)))
            continue
        if draw(st.booleans()) or field.has_presence is False:
            value = draw(_values(field))
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                getattr(message, field.name).CopyFrom(value)
            else:
                setattr(message, field.name, value)
    return message


def messages(descriptor: Descriptor) -> st.SearchStrategy[Message]:
    """Any message of this type: every field drawn from what its type holds."""
    return _message(descriptor)


_CLASSES: dict[str, type[Message]] = {
    **{
        descriptor.full_name: getattr(store_pb2, name)
        for name, descriptor in store_pb2.DESCRIPTOR.message_types_by_name.items()
    },
    **{
        descriptor.full_name: getattr(logging_pb2, name)
        for name, descriptor in logging_pb2.DESCRIPTOR.message_types_by_name.items()
    },
}

STORE_METHODS = list(store_pb2.DESCRIPTOR.services_by_name["StoreData"].methods)
LOG_METHODS = list(logging_pb2.DESCRIPTOR.services_by_name["LogCollector"].methods)


@pytest.fixture
def channels(services: ServiceLauncher) -> Iterator[dict[str, grpc.Channel]]:
    db_service = services.start("db-service")
    logging_service = services.start("logging-service")
    with (
        grpc.insecure_channel(f"127.0.0.1:{db_service.port}") as store,
        grpc.insecure_channel(f"127.0.0.1:{logging_service.port}") as logs,
    ):
        yield {"db-service": store, "logging-service": logs}


def _still_answering(channel: grpc.Channel, service: str) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def fuzz(channel: grpc.Channel, service: str, call: Any, requests: st.SearchStrategy[Any]) -> None:
    """Send what ``requests`` draws through ``call``; check each answer and the service after."""

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests)
    def one_call(request: Any) -> None:
        try:
            call(request, timeout=CALL_DEADLINE_S)
        except grpc.RpcError as error:
            assert error.code() not in UNEXPECTED, f"{error.code().name}: {error.details()}"
        _still_answering(channel, service)

    one_call()


def test_no_store_request_gets_an_unexpected_error(channels: dict[str, grpc.Channel]) -> None:
    channel = channels["db-service"]
    stub = store_pb2_grpc.StoreDataStub(channel)
    for method in STORE_METHODS:
        fuzz(
            channel,
            "merchstore.store.v1.StoreData",
            getattr(stub, method.name),
            messages(method.input_type),
        )


def test_no_log_stream_gets_an_unexpected_error(channels: dict[str, grpc.Channel]) -> None:
    channel = channels["logging-service"]
    stub = logging_pb2_grpc.LogCollectorStub(channel)
    for method in LOG_METHODS:
        fuzz(
            channel,
            "merchstore.logging.v1.LogCollector",
            getattr(stub, method.name),
            st.lists(messages(method.input_type), max_size=5).map(iter),
        )

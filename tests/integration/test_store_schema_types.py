"""Field types agree across the .proto, the store-api OpenAPI document and the SQL schema."""

from __future__ import annotations

import psycopg
import yaml
from google.protobuf.descriptor import FieldDescriptor

from merchstore.common.postgres import apply_migrations
from merchstore.protos import store_pb2
from tests.support.paths import REPOSITORY

OPENAPI = REPOSITORY / "docs" / "openapi" / "store-api.yaml"
TABLES = {"Product": "products", "User": "users", "Order": "orders"}
MONEY_PATTERN = r"^[0-9]+\.[0-9]{2}$"
# Between store-api and db-service only, never in a REST answer (still checked against SQL).
RPC_ONLY = {"User": {"token_generation"}}

# For each kind of field, the one type it has in each of the three places.
PROTO_TYPES = {
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_STRING: "string",
}
SQL_FOR_PROTO = {
    "int64": {"bigint"},
    "int32": {"integer"},
    "string": {"text", "character varying", "numeric", "timestamp with time zone"},
}


def sql_columns(database_url: str) -> dict[str, dict[str, tuple[str, int | None]]]:
    with psycopg.connect(database_url) as connection:
        apply_migrations(connection, "merchstore.db_service", "db-service")
        rows = connection.execute(
            "SELECT table_name, column_name, data_type, numeric_scale"
            " FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall()
    columns: dict[str, dict[str, tuple[str, int | None]]] = {}
    for table, column, data_type, scale in rows:
        columns.setdefault(table, {})[column] = (data_type, scale)
    return columns


def test_types_agree(database_url: str) -> None:
    schemas = yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]
    columns = sql_columns(database_url)
    for message_name, table in TABLES.items():
        message = store_pb2.DESCRIPTOR.message_types_by_name[message_name]
        schema = schemas[message_name]["properties"]
        proto_fields = {field.name: PROTO_TYPES[field.type] for field in message.fields}
        rpc_only = RPC_ONLY.get(message_name, set())
        assert set(proto_fields) - rpc_only == set(schema), (
            f"{message_name}: proto and OpenAPI fields differ"
        )
        for name, proto_type in proto_fields.items():
            sql_type, scale = columns[table][name]
            where = f"{message_name}.{name}"
            assert sql_type in SQL_FOR_PROTO[proto_type], f"{where}: {proto_type} vs SQL {sql_type}"
            if name in rpc_only:
                continue
            openapi = schema[name]
            if proto_type in ("int64", "int32"):
                assert openapi["type"] == "integer", where
            elif sql_type == "numeric":
                # Money: exact decimal everywhere, never a float.
                assert scale == 2, where
                assert openapi["type"] == "string" and openapi["pattern"] == MONEY_PATTERN, where
            elif sql_type == "timestamp with time zone":
                assert openapi["type"] == "string" and "RFC 3339" in openapi["description"], where
            else:
                assert openapi["type"] == "string" or "enum" in openapi, where


FIELD_TYPES_DOC = REPOSITORY / "docs" / "field-types.md"


def _openapi_type(schema: dict[str, object] | None) -> str:
    if schema is None:
        return "(not in the REST API)"
    if "enum" in schema:
        return "string, one of " + ", ".join(f"`{v}`" for v in schema["enum"])  # type: ignore[attr-defined]
    text = str(schema.get("type", "object"))
    if "format" in schema:
        text += f" ({schema['format']})"
    if "pattern" in schema:
        text += f", pattern `{schema['pattern']}`"
    return text


def field_type_table(database_url: str) -> str:
    """The table docs/field-types.md shows, read from the three places themselves."""
    schemas = yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]
    columns = sql_columns(database_url)
    rows = [
        "| field | PostgreSQL | protobuf | OpenAPI (store-api) |",
        "|---|---|---|---|",
    ]
    for message_name, table in TABLES.items():
        message = store_pb2.DESCRIPTOR.message_types_by_name[message_name]
        properties = schemas[message_name]["properties"]
        for field in message.fields:
            sql_type, scale = columns[table][field.name]
            sql = f"{sql_type}" + (f" (scale {scale})" if sql_type == "numeric" else "")
            openapi = _openapi_type(properties.get(field.name))
            rows.append(
                f"| `{message_name}.{field.name}` | {sql} | {PROTO_TYPES[field.type]} | {openapi} |"
            )
    return "\n".join(rows) + "\n"


def test_the_field_type_table_in_docs_is_what_the_schemas_say(database_url: str) -> None:
    table = field_type_table(database_url)
    assert table in FIELD_TYPES_DOC.read_text(), (
        f"docs/field-types.md is stale; its table must read:\n{table}"
    )

"""Field types agree across the .proto, the store-api OpenAPI document and the SQL schema."""

from __future__ import annotations

import yaml

from merchstore.protos import store_pb2
from tests.support.paths import REPOSITORY

OPENAPI = REPOSITORY / "docs" / "openapi" / "store-api.yaml"
# Between store-api and db-service only, never in a REST answer (still checked against SQL).

# For each kind of field, the one type it has in each of the three places.


def test_no_credentials_outside_db_service() -> None:
    schemas = yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]
    user_message = store_pb2.DESCRIPTOR.message_types_by_name["User"]
    for field in ("password", "password_hash"):
        assert field not in user_message.fields_by_name
        assert field not in schemas["User"]["properties"]

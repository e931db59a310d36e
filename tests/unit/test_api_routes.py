"""The api function serves exactly the routes mailroom.shape declares, with their operation
ids and auth, as its OpenAPI document says."""

from __future__ import annotations

from handlers import api
from mailroom.shape import ROUTES


def operations() -> dict[tuple[str, str], dict]:
    document = api.meta.document()  # as served
    return {(method.upper(), path): operation
            for path, item in document["paths"].items() for method, operation in item.items()}


def test_the_api_serves_exactly_the_declared_routes() -> None:
    assert set(operations()) == {(route.method, route.openapi_path) for route in ROUTES}


def test_each_operation_has_the_declared_id_and_auth() -> None:
    served = operations()
    for route in ROUTES:
        operation = served[(route.method, route.openapi_path)]
        assert operation["operationId"] == route.operation_id
        # Public routes override the document-wide x-api-key requirement with none.
        assert (operation.get("security") == [{}]) is route.public

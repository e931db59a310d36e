"""On the local stack, every route the shape does not mark public refuses a request without
the API key, or with a wrong one, before the function sees it: 403 `forbidden`."""

from __future__ import annotations

import re

import pytest

from mailroom import shape
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e

EXAMPLE_PARAMETERS = {"message_id": "0f8a7c1e-0000-4000-8000-000000000000",
                      "email": "ada@example.com", "name": "welcome", "token": "not-a-token"}


def concrete(route: shape.Route) -> str:
    return re.sub(r"<([^>]+)>", lambda match: EXAMPLE_PARAMETERS[match.group(1)], route.path)


@pytest.mark.parametrize("key", [None, "not-the-key", ""], ids=["missing", "wrong", "empty"])
@pytest.mark.parametrize("route", [r for r in shape.ROUTES if not r.public],
                         ids=lambda r: f"{r.method} {r.path}")
def test_every_route_not_marked_public_refuses_a_missing_or_wrong_key(
        api: Api, route: shape.Route, key: str | None) -> None:
    body = {} if route.method in ("POST", "PUT") else None

    status, answer = api.call(route.method, concrete(route), body, key=key)

    assert status == 403
    assert answer["error"]["code"] == "forbidden"


@pytest.mark.parametrize("route", shape.ROUTES.public, ids=lambda r: f"{r.method} {r.path}")
def test_public_routes_answer_without_a_key(api: Api, route: shape.Route) -> None:
    status, answer = api.call(route.method, concrete(route), key=None)

    if "<" in route.path:  # the function answered: here, that the made-up token is no link
        assert (status, answer["error"]["code"]) == (404, "not_found")
    else:
        assert status == 200

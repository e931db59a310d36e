"""`/v1/health` and `/v1/openapi.json`: the routes anyone may call."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mailroom.shape import ROUTES

from .dependencies import current
from .models import Health, responses
from .routing import route

router = APIGatewayRouter()
TAG = "meta"


@route(router, ROUTES.health, tag=TAG, summary="Liveness and whether sending is enabled",
       responses=responses(200, Health, "Up", public=True))
def health() -> Health:
    state = current(router).switch.state()
    return Health(sending="paused" if state.paused else "enabled")


@route(router, ROUTES.openapi, tag=TAG, summary="This API's OpenAPI document",
       responses=responses(200, None, "The OpenAPI 3 document", public=True))
def openapi() -> Response[dict[str, Any]]:
    return Response(status_code=200, content_type="application/json", body=document())


@cache
def document() -> dict[str, Any]:
    """Powertools' document, with its own 422 body (never sent) replaced by the contract's;
    built once per container."""
    app = cast(APIGatewayRestResolver, router.api_resolver)  # set when joined to the app
    parsed = json.loads(app.get_openapi_json_schema())
    schemas = parsed.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    text = json.dumps(parsed).replace("#/components/schemas/HTTPValidationError",
                                      "#/components/schemas/ErrorBody")
    return dict(json.loads(text))

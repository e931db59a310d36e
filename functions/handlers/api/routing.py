"""Registering a route as mailroom.shape declares it: method, path, operation id, auth."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mailroom.shape import Route


def route(router: APIGatewayRouter, declared: Route, *, tag: str, **kwargs: Any) -> Any:
    if declared.public:
        kwargs["security"] = [{}]  # overrides the document-wide x-api-key requirement
    return router.route(declared.path, method=declared.method,
                        operation_id=declared.operation_id, tags=[tag], **kwargs)


def who(router: APIGatewayRouter, actor: str | None) -> str:
    """The named actor and the API key the request came with (API Gateway's id for it):
    what a change records as its author."""
    key_id = router.current_event.request_context.identity.api_key_id
    return f"{actor or 'unnamed'} (API key {key_id or 'unknown'})"

"""API Gateway emulator: turns each HTTP request into a REST API (v1) Lambda proxy event,
enforces the API key and the 10 MB payload limit the way API Gateway does, invokes the api
handler and writes its proxy response back."""

from __future__ import annotations

import base64
import hmac
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.gateway_errors import BY_RESPONSE_TYPE
from mailroom import shape

from .httpserver import BodyTooLarge, JsonRequestHandler, LoopbackServer, Served
from .lambda_runtime import LambdaFunction
from .logs import about
from .resources import ACCOUNT_ID

log = logging.getLogger("mailroom_dev.local")

# API Gateway's hard limit on a request payload.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
STAGE = "local"
API_ID = "mailroomlocal"
API_KEY_ID = "localkey01"

# The deployed API's resources (infra/api.py): everything under /v1 goes through one greedy
# proxy resource that requires the key; the public routes have resources of their own.
PROXY_RESOURCE = f"{shape.API_PREFIX}/{{proxy+}}"
PUBLIC_RESOURCES = {route.openapi_path for route in shape.ROUTES.public}
# What API Gateway's ANY method covers; any other method (TRACE, CONNECT, …) it does not route.
ROUTED_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    body: dict[str, Any]
    error_type: str | None = None


def _contract_error(response_type: str, error_type: str) -> GatewayResponse:
    error = BY_RESPONSE_TYPE[response_type]
    assert error.status is not None
    return GatewayResponse(error.status, error.body, error_type)


# API Gateway's own refusals, customised by the stack into the contract's error shape.
FORBIDDEN = _contract_error("INVALID_API_KEY", "ForbiddenException")
NO_ROUTE = _contract_error("MISSING_AUTHENTICATION_TOKEN", "MissingAuthenticationTokenException")
TOO_LARGE = _contract_error("REQUEST_TOO_LARGE", "RequestTooLargeException")
# A failed or malformed Lambda answer: API Gateway's 502, in the stack's DEFAULT_5XX body.
INTERNAL_ERROR = GatewayResponse(502, BY_RESPONSE_TYPE["DEFAULT_5_XX"].body)


@dataclass(frozen=True)
class Route:
    resource: str
    path_parameters: dict[str, str] | None
    api_key_required: bool


def match_route(method: str, path: str) -> Route | None:
    """The deployed API's resource and method for a request, or None where API Gateway has
    none (it answers "Missing Authentication Token" then)."""
    if method not in ROUTED_METHODS:
        return None
    for resource in PUBLIC_RESOURCES:
        # An explicit resource wins over the proxy (a `{name}` segment matches one path
        # segment). Its other methods reach the function key-free too, so it can answer 405
        # with the methods the path has.
        if (parameters := _path_parameters(resource, path)) is not None:
            return Route(resource, parameters or None, api_key_required=False)
    prefix = PROXY_RESOURCE.split("{", 1)[0]
    if path.startswith(prefix) and len(path) > len(prefix):
        return Route(PROXY_RESOURCE, {"proxy": unquote(path[len(prefix):])},
                     api_key_required=True)
    return None


def _path_parameters(resource: str, path: str) -> dict[str, str] | None:
    """The `{name}` segments of `resource` that `path` fills (empty: it has none), or None
    when `path` is not this resource's."""
    given, declared = path.split("/"), resource.split("/")
    if len(given) != len(declared):
        return None
    parameters = {}
    for part, pattern in zip(given, declared, strict=True):
        if pattern.startswith("{") and pattern.endswith("}") and part:
            parameters[pattern[1:-1]] = unquote(part)
        elif part != pattern:
            return None
    return parameters


class ApiGatewayEmulator(Served):
    def __init__(self, function: LambdaFunction, api_key: str, port: int = 0) -> None:
        self.function = function
        self.api_key = api_key
        self._server = LoopbackServer(_ApiRequestHandler, port, app=self)

    def is_authorized(self, route: Route, headers: dict[str, str]) -> bool:
        if not route.api_key_required:
            return True
        given = next((v for k, v in headers.items() if k.lower() == "x-api-key"), "")
        return hmac.compare_digest(given.encode(), self.api_key.encode())


def build_event(
    *,
    route: Route,
    method: str,
    raw_path: str,
    query: str,
    header_pairs: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    api_key: str | None,
    host: str,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The REST API proxy event (payload format 1.0) for one request. As in API Gateway,
    `path` keeps its percent-encoding while path and query parameters are decoded."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query_pairs = parse_qsl(query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        multi_query.setdefault(name, []).append(value)
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text_body, is_base64 = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    request_id = request_id or str(uuid.uuid4())
    identity = {
        "sourceIp": source_ip,
        "userAgent": headers.get("User-Agent") or headers.get("user-agent"),
        "apiKey": api_key,
        "apiKeyId": API_KEY_ID if api_key else None,
        "accountId": None,
        "caller": None,
        "user": None,
        "userArn": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "accessKey": None,
        "principalOrgId": None,
    }
    return {
        "resource": route.resource,
        "path": raw_path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": dict(query_pairs) or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": route.path_parameters,
        "stageVariables": None,
        "body": text_body,
        "isBase64Encoded": is_base64,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "path": f"/{STAGE}{raw_path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": host.split(":")[0],
            "domainName": host,
            "requestId": request_id,
            "apiId": API_ID,
            "identity": identity,
        },
    }


class _ApiRequestHandler(JsonRequestHandler):
    server_version = "mailroom-local-apigateway"

    @property
    def gateway(self) -> ApiGatewayEmulator:
        return self.server.app  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        self._proxy()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method gets API Gateway's answer, not http.server's 501.
        if name.startswith("do_"):
            return self._proxy
        raise AttributeError(name)

    def _proxy(self) -> None:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        try:
            body = self.read_body(MAX_PAYLOAD_BYTES)
        except BodyTooLarge:
            self.discard_body()
            return self._gateway_error(TOO_LARGE, request_id)
        url = urlsplit(self.path)
        header_pairs = list(self.headers.items())
        route = match_route(self.command, url.path)
        if route is None:
            return self._gateway_error(NO_ROUTE, request_id)
        if not self.gateway.is_authorized(route, dict(header_pairs)):
            return self._gateway_error(FORBIDDEN, request_id)
        event = build_event(
            route=route,
            method=self.command,
            raw_path=url.path,
            query=url.query,
            header_pairs=header_pairs,
            body=body,
            source_ip=self.client_address[0],
            # API Gateway identifies the key only on methods that require one.
            api_key=self.headers.get("x-api-key") if route.api_key_required else None,
            host=self.headers.get("Host", f"127.0.0.1:{self.gateway.port}"),
            request_id=request_id,
        )
        try:
            response = self.gateway.function.invoke(event)
            status, headers, payload = _proxy_response(response)
        except Exception:
            log.exception("%s %s: the api handler failed", self.command, url.path,
                          extra=about(self.gateway.function.name))
            return self._gateway_error(INTERNAL_ERROR, request_id)
        headers.append(("x-amzn-RequestId", request_id))
        self.send_body(status, payload, headers, content_type=None)
        log.info("%s %s %s (%.0f ms)", self.command, url.path, status,
                 (time.monotonic() - started) * 1000, extra=about(self.gateway.function.name))

    def _gateway_error(self, error: GatewayResponse, request_id: str) -> None:
        headers = [("x-amzn-RequestId", request_id)]
        if error.error_type:
            headers.append(("x-amzn-ErrorType", error.error_type))
        self.send_json(error.status, error.body, headers)
        log.info("%s %s %s  refused by API Gateway: %s", self.command, self.path, error.status,
                 error.body["error"]["message"], extra=about(self.gateway.function.name))


def _proxy_response(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of a Lambda proxy response; ValueError if malformed (API
    Gateway answers 502 then)."""
    if not isinstance(response, dict) or "statusCode" not in response:
        raise ValueError(f"malformed Lambda proxy response: {response!r:.200}")
    headers: list[tuple[str, str]] = []
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers += [(name, str(value)) for value in values]
    multi_names = {name.lower() for name, _ in headers}
    for name, value in (response.get("headers") or {}).items():
        if name.lower() not in multi_names:
            headers.append((name, str(value)))
    body = response.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("the Lambda proxy response body must be a string")
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return int(response["statusCode"]), headers, payload

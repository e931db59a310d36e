"""Powertools' Tracer as every function builds it."""

from __future__ import annotations

from aws_lambda_powertools import Tracer

# Only botocore, where all our AWS calls go. By default the X-Ray SDK patches every library
# it supports that happens to be installed (httpx, requests, sqlite3, …), importing each one
# during the function's init.
TRACED_MODULES = ("botocore",)


def tracer_for(service: str) -> Tracer:
    return Tracer(service=service, patch_modules=TRACED_MODULES)

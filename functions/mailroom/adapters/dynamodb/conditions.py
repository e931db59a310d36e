"""Telling a refused condition expression (the rule held) from a real failure."""

from __future__ import annotations

from botocore.exceptions import ClientError


def is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"

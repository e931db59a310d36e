"""Listing cursors: the key a page resumes after, as an opaque URL-safe string."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping
from typing import Any

from ...errors import InvalidCursor


def encode_cursor(key: Mapping[str, Any] | None) -> str | None:
    """A `next_cursor` for `key` (DynamoDB attribute values); None when there is none."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_cursor(cursor: str | None, key_names: Collection[str],
                  fixed: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The key a `next_cursor` encodes: exactly the listing's key attributes, as strings,
    with the `fixed` values the listing queries by (a by_reason cursor is for its reason
    only). Anything else was not made by this API (or belongs to another listing)."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError):  # not base64, not UTF-8, not JSON, absurdly deep
        raise InvalidCursor() from None
    if (isinstance(key, dict) and set(key) == set(key_names)
            and all(isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str)
                    and v["S"]  # DynamoDB refuses an empty key value as a start key
                    for v in key.values())
            and all(key[name]["S"] == value for name, value in (fixed or {}).items())):
        return key
    raise InvalidCursor()

"""Python values to DynamoDB attribute values and back, with boto3's own serializer. On the
way back numbers become ints or floats and sets sorted lists, the types pydantic expects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attribute(value: Any) -> dict[str, Any]:
    """One attribute value; floats go through Decimal, as DynamoDB numbers must."""
    return _serializer.serialize(_decimals(value))


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: to_attribute(value) for key, value in data.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def epoch(moment: datetime) -> int:
    """Whole seconds since the epoch: how TTL attributes and lease times are stored."""
    return int(moment.timestamp())


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(item) for item in value)
    return value

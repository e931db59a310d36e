"""Domain errors carry the contract's code, HTTP status and details."""

from __future__ import annotations

from mailroom.errors import InvalidCursor, RequestValidationError


def test_an_invalid_cursor_is_a_validation_error_on_the_cursor_field():
    error = InvalidCursor()

    assert isinstance(error, RequestValidationError)
    assert (error.code, error.http_status) == ("validation_error", 422)
    assert error.to_body()["error"]["details"] == {"field": "cursor"}
    assert "next_cursor" in error.message

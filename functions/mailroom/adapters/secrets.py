"""Secrets Manager adapter: the unsubscribe links' signing keys.

The secret's AWSCURRENT version signs; AWSPREVIOUS (what a rotation just replaced) still
verifies, so a link in an inbox keeps working across a rotation. Both are cached for a few
minutes per container; a token that fails against the cache is checked again with a fresh
read, so a key rotated moments ago is never refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

import boto3

CACHE_SECONDS = 300
STAGES = ("AWSCURRENT", "AWSPREVIOUS")


class SecretsManagerKeys:
    def __init__(self, secret_id: str, client: Any = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.secret_id = secret_id
        self._client = client
        self.clock = clock
        self._keys: list[bytes] = []
        self._read_at: float | None = None

    @cached_property
    def client(self) -> Any:
        return self._client or boto3.client("secretsmanager")

    def current(self) -> bytes:
        return self.valid()[0]

    def valid(self, *, fresh: bool = False) -> list[bytes]:
        stale = self._read_at is None or self.clock() - self._read_at >= CACHE_SECONDS
        if fresh or stale:
            self._keys = [key for key in map(self._read, STAGES) if key]
            self._read_at = self.clock()
        if not self._keys:
            raise RuntimeError(f"The secret {self.secret_id} has no current value")
        return list(self._keys)

    def _read(self, stage: str) -> bytes | None:
        try:
            value = self.client.get_secret_value(SecretId=self.secret_id, VersionStage=stage)
        except self.client.exceptions.ResourceNotFoundException:
            return None  # no previous version before the first rotation
        return str(value["SecretString"]).encode("utf-8")

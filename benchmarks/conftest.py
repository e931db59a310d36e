"""Benchmarks reuse the integration fixtures: real adapters and handlers on in-process moto."""

from tests.integration.conftest import *  # noqa: F403

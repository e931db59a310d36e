"""Benchmarks reuse the integration fixtures: real adapters and handlers on in-process moto.
`make bench` shows its table, so the handlers run quiet: warnings and errors only, no
metrics (EMF) on stdout."""

import pytest

from tests.integration.conftest import *  # noqa: F403


@pytest.fixture(scope="session", autouse=True)
def quiet_handlers():
    from mailroom_dev.local import logs

    with pytest.MonkeyPatch.context() as env:
        env.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        env.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
        logs.quiet()  # for handlers imported already, and Powertools' 100th data point
        yield

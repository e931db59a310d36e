"""`python -m bench.remote_ses LATENCY`: the SES simulator in a process of its own, answering
each send LATENCY seconds after it arrived, its own work included. SES is a service of its
own: in the sender's process the simulator's rendering and MIME building would take the
sender's interpreter lock, and `sender_speedup` would measure the simulator's CPU rather than
the sender's concurrency.

Prints its URL on one line, serves until its stdin closes. Its SES events go nowhere."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any


class _NoEvents:
    def publish(self, **_: Any) -> dict[str, str]:
        return {"MessageId": "discarded"}

    publish_batch = publish


def main(latency: float) -> int:
    from mailroom.templates import TemplateCatalog
    from mailroom_dev.local import resources as names
    from mailroom_dev.local.ses_simulator import SesSimulator

    with tempfile.TemporaryDirectory() as outbox:
        simulator = SesSimulator(
            sns=_NoEvents(), ses_events_topic_arn="arn:aws:sns:us-east-1:000000000000:none",
            configuration_set=names.CONFIGURATION_SET, outbox_dir=Path(outbox),
            catalog=TemplateCatalog.load(), template_prefix=names.TEMPLATE_PREFIX,
            max_send_rate=100_000, event_delay=600)
        send_email = simulator.send_email

        def slow_send_email(request: dict[str, Any]) -> dict[str, str]:
            arrived = time.monotonic()
            answer = send_email(request)
            time.sleep(max(0.0, arrived + latency - time.monotonic()))
            return answer

        simulator.send_email = slow_send_email  # type: ignore[method-assign]
        simulator.start()
        print(simulator.url, flush=True)
        sys.stdin.read()
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1])))

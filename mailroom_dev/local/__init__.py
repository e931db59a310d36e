"""The local stack: Mailroom on a laptop with no AWS account (DESIGN §3).

    python -m mailroom_dev.local      # or `make dev`, or `mailroom dev`

In tests: `with LocalStack(LocalStackOptions(api_port=0, aws_port=0, console_port=0, ...))
as stack: ...`."""

from .stack import LocalStack, LocalStackOptions, PortInUse

__all__ = ["LocalStack", "LocalStackOptions", "PortInUse"]

"""AWS adapters for the ports in `mailroom.ports`. Each takes an optional boto3 client so
tests and the local stack can hand one in; by default it makes its own from the environment
(so `AWS_ENDPOINT_URL` points it at the local emulator without code changes)."""

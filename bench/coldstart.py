"""Cold start: a fresh process that imports a handler and builds its dependencies (clients
included), as a Lambda init does, against a fresh process that imports boto3 and creates one
client; each counted to the end of its init, not its exit. Both run with Lambda's
environment (LAMBDA_TASK_ROOT set, so Powertools' Tracer is on, as deployed) and with
bytecode cached, as Lambda's runtime ships boto3; medians of interleaved runs, in CPU seconds
(user + system), which other work on a shared machine disturbs far less than wall time. Also
the peak RSS after init."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mailroom import shape

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 7
# The functions whose figures have fixed names (cold_start_ratio_<name>, memory_mb_<name>).
FUNCTIONS = (shape.API, shape.SENDER, shape.EVENTS)
CHILD = r"""
import importlib, json, sys
kind = sys.argv[1]
if kind == "boto3":
    import boto3
    boto3.client("sqs")
else:
    module = importlib.import_module(kind)
    module.dependencies()
# VmHWM: this process's peak RSS since exec (ru_maxrss would carry the forking parent's).
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
               if line.startswith("VmHWM:"))
print(json.dumps({"rss_mb": peak_kb / 1024,
                  "modules": sorted(m for m in ("aws_xray_sdk", "httpx", "pybars", "jinja2")
                                    if m in sys.modules)}), flush=True)
# Init ends here. A Lambda process is frozen and reused, never torn down on this path:
# tearing the interpreter down (a third of the handlers' CPU) is not part of a cold start.
import os
os._exit(0)
"""


def lambda_environment() -> dict[str, str]:
    """What a deployed function's process sees, with placeholder resource names: no AWS
    call is made (the sender's rate is given, so it needs no GetAccount)."""
    import boto3
    from moto import mock_aws

    from mailroom_dev.local.resources import create_resources
    from mailroom_dev.local.stack import settings_environment

    # The names as the local stack makes them (in a throwaway moto), so that every setting
    # of every function has its value, whatever resources the shape declares.
    with mock_aws():
        clients = [boto3.client(service, region_name="us-east-1",
                                aws_access_key_id="bench", aws_secret_access_key="bench")
                   for service in ("dynamodb", "sqs", "sns")]
        names = settings_environment(create_resources(*clients))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "MAILROOM_", "POWERTOOLS_"))}
    env.update(names)
    env.update({
        "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "MAILROOM_MAX_SEND_RATE": "14",
        "POWERTOOLS_METRICS_NAMESPACE": shape.METRICS_NAMESPACE,
    })
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(kind: str, env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """CPU seconds and wall seconds of one fresh process, and what it reports."""
    cpu, started = _children_cpu(), time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, kind], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    return _children_cpu() - cpu, wall, json.loads(out.stdout.strip().splitlines()[-1])


def measure() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        # Bytecode written on the warm-up run and read after, whatever the machine's
        # PYTHONDONTWRITEBYTECODE says: compiling sources is not what either side measures.
        env = {key: value for key, value in lambda_environment().items()
               if key != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": pycache}
        return _measure(env)


def _measure(env: dict[str, str]) -> list[dict[str, Any]]:
    kinds = ["boto3", *(spec.handler.rpartition(".")[0] for spec in FUNCTIONS)]
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    walls: dict[str, list[float]] = {kind: [] for kind in kinds}
    info: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        _run(kind, env)  # warm the file and bytecode caches: every kind starts the same
    for _ in range(ROUNDS):
        for kind in kinds:
            cpu, wall, info[kind] = _run(kind, env)
            seconds[kind].append(cpu)
            walls[kind].append(wall)
    baseline = statistics.median(seconds["boto3"])
    results = []
    for spec in FUNCTIONS:
        kind = spec.handler.rpartition(".")[0]
        results.append({
            "name": f"cold_start_ratio_{spec.name}",
            "value": round(statistics.median(seconds[kind]) / baseline, 2),
            "unit": "x", "target": "<= 1.5",
            "baseline": f"import boto3 + 1 client: {baseline * 1000:.0f} ms CPU",
            "detail": f"{statistics.median(seconds[kind]) * 1000:.0f} ms CPU "
                      f"({statistics.median(walls[kind]) * 1000:.0f} ms wall, the baseline's "
                      f"{statistics.median(walls['boto3']) * 1000:.0f} ms wall); loads "
                      f"{', '.join(info[kind]['modules']) or 'no X-Ray SDK, pybars or Jinja2'}",
        })
    for spec in FUNCTIONS:
        kind = spec.handler.rpartition(".")[0]
        results.append({
            "name": f"memory_mb_{spec.name}",
            "value": round(info[kind]["rss_mb"], 1), "unit": "MB",
            "baseline": f"import boto3 + 1 client: {info['boto3']['rss_mb']:.0f} MB",
            "target": f"<= {spec.memory_mb // 2} (half the {spec.memory_mb} MB the stack gives it)",
            "detail": f"peak RSS (VmHWM) of a fresh process after importing {kind} and "
                      "building its dependencies",
        })
    return results

"""The Lambda asset's bundled dependencies: pinned to what the tests run on."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from infra.bundling import UvLocalBundling, _compile_bytecode

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "functions" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"unpinned requirement: {line}"
            pins[name.lower()] = version
    return pins


def test_requirements_pin_the_versions_in_uv_lock():
    locked = {
        p["name"]: p["version"] for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]
    }
    pins = _requirements()
    assert {"pydantic-settings", "email-validator", "pybars3"} <= set(pins)
    assert {name: locked.get(name) for name in pins} == pins


def test_runtime_provided_packages_are_not_bundled():
    # boto3 comes with the Lambda runtime, Powertools with its layer.
    assert not {"boto3", "botocore", "aws-lambda-powertools"} & set(_requirements())


def test_wheels_are_fetched_for_the_function_architecture(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr("infra.bundling._uv", lambda: ["uv"])
    monkeypatch.setattr("subprocess.run", lambda command, **_: commands.append(command))
    monkeypatch.setattr("infra.bundling._compile_bytecode", lambda out, python: None)
    source = tmp_path / "src"
    (source / "mailroom").mkdir(parents=True)
    (source / "requirements.txt").write_text("pybars3==0.9.7\n")
    bundler = UvLocalBundling(source, lambda_.Architecture.ARM_64, "3.12")

    assert bundler.try_bundle(str(tmp_path / "out"), image=None) is True

    [command] = commands
    assert command[command.index("--python-platform") + 1] == "aarch64-manylinux2014"
    assert command[command.index("--python-version") + 1] == "3.12"
    assert command[command.index("--only-binary") + 1] == ":all:"
    assert (tmp_path / "out" / "mailroom").is_dir()


def test_the_asset_carries_bytecode_its_runtime_loads_without_checking_timestamps(tmp_path):
    # This machine's own Python stands in for the runtime's.
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    (tmp_path / "mailroom").mkdir()
    (tmp_path / "mailroom" / "models.py").write_text("LIMIT = 50\n")

    _compile_bytecode(tmp_path, version)

    compiled = Path(importlib.util.cache_from_source(str(tmp_path / "mailroom" / "models.py")))
    flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, source never checked (PEP 552)


def test_without_the_runtimes_interpreter_the_asset_ships_source_only(tmp_path, capsys):
    (tmp_path / "handler.py").write_text("x = 1\n")

    _compile_bytecode(tmp_path, "2.0")

    assert not list(tmp_path.rglob("*.pyc"))
    assert "no python2.0 on PATH" in capsys.readouterr().err

"""The one Lambda asset: functions/ plus the wheels in functions/requirements.txt, bundled
on this machine (no Docker). uv downloads manylinux wheels for the Lambda platform, so the
result is the same as a build inside the Lambda image would be."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from .config import FUNCTIONS_DIR

# Only pure-Python sdists may be built from source (they have no wheel on PyPI); anything
# with native code must come as a manylinux wheel for the target platform.
_SDIST_ONLY = ("pybars3", "pymeta3")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")


@jsii.implements(ILocalBundling)
class UvLocalBundling:
    def __init__(self, source: Path, architecture: lambda_.Architecture, python: str) -> None:
        self._source = source
        self._platform = (
            "aarch64-manylinux2014"
            if architecture.name == lambda_.Architecture.ARM_64.name
            else "x86_64-manylinux2014"
        )
        self._python = python  # e.g. "3.12"

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        shutil.copytree(self._source, out, dirs_exist_ok=True, ignore=_IGNORE)
        requirements = self._source / "requirements.txt"
        command = [
            *_uv(), "pip", "install",
            "--quiet",
            "--target", str(out),
            "--requirement", str(requirements),
            "--python-platform", self._platform,
            "--python-version", self._python,
            "--only-binary", ":all:",
            *(arg for name in _SDIST_ONLY for arg in ("--no-binary", name)),
        ]  # fmt: skip
        subprocess.run(command, check=True)
        _compile_bytecode(out, self._python)
        return True


def _compile_bytecode(out: Path, python: str) -> None:
    """Lambda's /var/task is read-only: without .pyc files in the asset every cold start
    compiles each module it imports. Only the runtime's own interpreter can compile for
    it; without one here the asset ships source only and still works."""
    interpreter = shutil.which(f"python{python}")
    if interpreter is None:
        print(f"bundling: no python{python} on PATH, so the Lambda asset carries no "
              "bytecode (cold starts compile what they import)", file=sys.stderr)
        return
    # Unchecked hashes: the zip does not keep the sources' timestamps exactly, and a
    # timestamp check that fails would recompile at every cold start.
    subprocess.run([interpreter, "-m", "compileall", "-q", "-j", "0",
                    "--invalidation-mode", "unchecked-hash", str(out)], check=True)


def _uv() -> list[str]:
    """uv on PATH, else the uv package of the system Python (how the Makefile installs it
    when it is missing); the project venv itself does not carry uv."""
    if uv := shutil.which("uv"):
        return [uv]
    for python in filter(None, (shutil.which("python3"), sys.executable)):
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True)
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    raise RuntimeError("uv not found: `pip install uv` to bundle the Lambda asset")


def function_code(architecture: lambda_.Architecture, runtime: lambda_.Runtime) -> lambda_.Code:
    python = runtime.name.removeprefix("python")
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        # Hash the source (requirements.txt included), not the output, so an unchanged tree
        # gives the same asset and no redeploy.
        asset_hash_type=AssetHashType.SOURCE,
        exclude=["**/__pycache__", "**/*.pyc"],
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused"),  # never pulled: local bundling wins
            local=UvLocalBundling(FUNCTIONS_DIR, architecture, python),
        ),
    )

"""Shared fixtures: the built sample binaries and native / pyexec runners.

Samples live in samples/build/<name>-<variant>.  If any is missing, the
session fixture runs `make samples` once and fails loudly if that does not
produce them (nothing is skipped silently).

pyexec is run as `sys.executable -m emulator ...` with cwd = repo root, so the
checkout under test is what runs, installed or not.

Tests use the fixtures (pytest runs with --import-mode=importlib, so test
modules do not import this file): `run_native(argv, **kw)`,
`run_pyexec(argv, **kw)`, `sample(name, variant)`, `sample_names`, and any
test with a `variant` argument is parametrized over VARIANTS.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = REPO_ROOT / "samples"
BUILD_DIR = SAMPLES_DIR / "build"
VARIANTS = ("x86_64", "i386", "pie", "musl")
SAMPLES = tuple(sorted(p.stem for p in SAMPLES_DIR.glob("*.c")))
TIMEOUT = 120

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]

# A guest dying by SIGSEGV must not leave core files behind (nor must a
# crashing Python); children inherit this limit.
_soft, _hard = resource.getrlimit(resource.RLIMIT_CORE)
resource.setrlimit(resource.RLIMIT_CORE, (0, _hard))


def _run(cmd: Sequence[str | os.PathLike[str]], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    kw.setdefault("cwd", REPO_ROOT)
    kw.setdefault("timeout", TIMEOUT)
    if "stdout" not in kw and "stderr" not in kw:
        kw.setdefault("capture_output", True)
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([os.fspath(c) for c in cmd], check=False, **kw)


def run_native(argv: Sequence[str | os.PathLike[str]], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """Run argv directly (cwd = repo root, 120 s timeout, output captured)."""
    return _run(argv, **kw)


def run_pyexec(argv: Sequence[str | os.PathLike[str]], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """Run argv under pyexec: `python -m emulator *argv` from the repo root."""
    return _run([sys.executable, "-m", "emulator", *argv], **kw)


def sample_path(name: str, variant: str) -> Path:
    return BUILD_DIR / f"{name}-{variant}"


def _missing() -> list[Path]:
    return [sample_path(s, v) for s in SAMPLES for v in VARIANTS if not sample_path(s, v).is_file()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking a `variant` argument runs once per sample variant."""
    if "variant" in metafunc.fixturenames:
        metafunc.parametrize("variant", VARIANTS)


@pytest.fixture(scope="session")
def sample_names() -> tuple[str, ...]:
    """Names of all samples/*.c (without extension)."""
    return SAMPLES


@pytest.fixture(scope="session")
def built_samples() -> Path:
    """Ensure every samples/build/<name>-<variant> exists; returns BUILD_DIR."""
    if not SAMPLES:
        pytest.fail(f"no samples/*.c found under {SAMPLES_DIR}")
    if _missing():
        proc = subprocess.run(
            ["make", "-C", str(REPO_ROOT), "samples"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"`make samples` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        still = _missing()
        if still:
            pytest.fail("`make samples` did not build: " + ", ".join(str(p) for p in still))
    return BUILD_DIR


@pytest.fixture(scope="session")
def sample(built_samples: Path) -> Callable[[str, str], Path]:
    """sample(name, variant) -> absolute path of a built sample binary."""

    def get(name: str, variant: str) -> Path:
        path = sample_path(name, variant)
        if not path.is_file():
            pytest.fail(f"sample binary missing: {path}")
        return path

    return get


@pytest.fixture(name="run_native", scope="session")
def run_native_fixture() -> Runner:
    return run_native


@pytest.fixture(name="run_pyexec", scope="session")
def run_pyexec_fixture() -> Runner:
    return run_pyexec

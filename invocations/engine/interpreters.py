"""Finding the language runtimes installed on this node.

A pyenv shim is a shell script that re-resolves the version on every start (≈ 2x the cold start,
see MACHINE-FACTS.md) and needs $HOME, which environments do not get: always resolve the real binary.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from invocations.engine.types import RuntimeInfo

PYTHON_RUNTIMES = {"python3.11": "3.11", "python3.12": "3.12", "python3.13": "3.13"}
NODE_RUNTIMES = {"nodejs20.x": 20, "nodejs22.x": 22}
PROVIDED_RUNTIMES = ("provided.al2023", "provided.al2")

AWSLAMBDARIC_VERSION = "4.2.2"
BOTO3_VERSION = "1.44.8"

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_BOOTSTRAP_DIR = Path(__file__).resolve().parent / "runtimes" / "node"
PYTHON_LAUNCHER_DIR = Path(__file__).resolve().parent / "runtimes" / "python"  # a ready environment's launcher


def default_runtimes_dir() -> str:
    return os.environ.get("LAMBDA_RUNTIMES_DIR") or str(REPO_ROOT / "var" / "runtimes")


def python_runtime_dir(runtimes_dir: str, version: str) -> str:
    return os.path.join(runtimes_dir, f"python{version}")


def _is_script(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"#!"


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _patch_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/versions/(\d+)\.(\d+)\.(\d+)/", path)
    return tuple(int(x) for x in match.groups()) if match else (0,)


def find_python(version: str) -> str | None:
    """The real pythonX.Y binary: pyenv installs first (they carry pip), then PATH without shims."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(
        glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", f"python{version}")),
        key=_patch_key,
        reverse=True,
    )
    path_dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and "shims" not in d]
    candidates += [os.path.join(d, f"python{version}") for d in [*path_dirs, "/usr/local/bin", "/usr/bin"]]
    for candidate in candidates:
        if not _executable(candidate):
            continue
        real = os.path.realpath(candidate)
        if _executable(real) and not _is_script(real):
            return real
    return None


def python_prefix(executable: str) -> str:
    """The install prefix (…/bin/pythonX.Y → …): what the sandbox must show for the stdlib."""
    return str(Path(executable).resolve().parent.parent)


@dataclass(frozen=True)
class NodeInfo:
    executable: str
    major: int


def find_node() -> NodeInfo | None:
    found = shutil.which("node")
    if not found:
        return None
    real = os.path.realpath(found)
    try:
        out = subprocess.run([real, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"v(\d+)\.", out.strip())
    return NodeInfo(real, int(match.group(1))) if match else None


def runtime_installed(runtime_dir: str) -> bool:
    return os.path.isfile(os.path.join(runtime_dir, "awslambdaric", "__init__.py"))


def discover_runtimes(runtimes_dir: str) -> dict[str, RuntimeInfo]:
    found: dict[str, RuntimeInfo] = {}
    for name, version in PYTHON_RUNTIMES.items():
        exe = find_python(version)
        if exe is None:
            found[name] = RuntimeInfo(name, "", False, f"no python{version} interpreter found")
        elif not runtime_installed(python_runtime_dir(runtimes_dir, version)):
            reason = f"awslambdaric not installed in {python_runtime_dir(runtimes_dir, version)} (run scripts/install_runtimes.py)"
            found[name] = RuntimeInfo(name, exe, False, reason)
        else:
            found[name] = RuntimeInfo(name, exe, True)
    node = find_node()
    for name, major in NODE_RUNTIMES.items():
        if node is None:
            found[name] = RuntimeInfo(name, "", False, "node not found on PATH")
        elif node.major != major:
            found[name] = RuntimeInfo(name, node.executable, False, f"node is v{node.major}, not v{major}")
        else:
            found[name] = RuntimeInfo(name, node.executable, True)
    for name in PROVIDED_RUNTIMES:
        found[name] = RuntimeInfo(name, "", True)
    return found

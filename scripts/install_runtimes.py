"""Install the Python runtime interface client (awslambdaric) and boto3 for every Python runtime.

Usage: python scripts/install_runtimes.py [--dir DIR]

Each interpreter gets its own directory (<dir>/pythonX.Y), mounted at /var/runtime inside its
environments, as on AWS where boto3 ships with the runtime. Wheels only: awslambdaric from sdist
needs autotools and cmake (spec §9.7).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from invocations.engine.interpreters import (  # noqa: E402
    AWSLAMBDARIC_VERSION,
    BOTO3_VERSION,
    PYTHON_RUNTIMES,
    default_runtimes_dir,
    find_python,
    python_runtime_dir,
)

PACKAGES = {"awslambdaric": AWSLAMBDARIC_VERSION, "boto3": BOTO3_VERSION}


def already_installed(target: str) -> bool:
    return all(os.path.isdir(os.path.join(target, f"{name}-{version}.dist-info")) for name, version in PACKAGES.items())


def install(runtimes_dir: str) -> int:
    failures = 0
    for runtime, version in PYTHON_RUNTIMES.items():
        interpreter = find_python(version)
        if interpreter is None:
            print(f"{runtime}: skipped, no python{version} interpreter found")
            continue
        target = python_runtime_dir(runtimes_dir, version)
        if already_installed(target):
            print(f"{runtime}: already installed in {target} ({interpreter})")
            continue
        print(f"{runtime}: installing {', '.join(f'{n}=={v}' for n, v in PACKAGES.items())} into {target} with {interpreter}")
        command = [
            interpreter, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--root-user-action=ignore",
            "--upgrade",
            "--only-binary=:all:", "--target", target, *(f"{n}=={v}" for n, v in PACKAGES.items()),
        ]
        # Compile bytecode: environments cannot write it (read-only /var/runtime), and an
        # uncompiled boto3 import costs seconds on every cold start.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        result = subprocess.run(command, env=env)
        if result.returncode != 0:
            print(f"{runtime}: pip failed with exit status {result.returncode}")
            failures += 1
            continue
        subprocess.run([interpreter, "-m", "compileall", "-q", "-j", "0", target], env=env, check=False)
        print(f"{runtime}: done")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=default_runtimes_dir(), help="runtimes directory (default: %(default)s)")
    args = parser.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    return install(args.dir)


if __name__ == "__main__":
    sys.exit(main())

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_the_engine_imports_nothing_from_django() -> None:
    code = ("import sys; import invocations.engine, invocations.engine.pool, invocations.engine.runtime_api; "
            "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); print(bad); "
            "sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr

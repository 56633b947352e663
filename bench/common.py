"""What the stack benchmarks share: the no-op function they invoke."""

from __future__ import annotations

import io
import zipfile

NOOP = "def handler(event, context):\n    return None\n"


def noop_zip() -> bytes:
    """A deployment package holding ``app.py`` with ``NOOP`` (handler ``app.handler``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", NOOP)
    return buffer.getvalue()

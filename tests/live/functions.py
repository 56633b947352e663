"""Function code used by the live tests."""

from __future__ import annotations

import io
import zipfile

ECHO_HANDLER = '''\
def handler(event, context):
    print("hello from the function")
    return event
'''

ERROR_HANDLER = '''\
def handler(event, context):
    raise ValueError("something went wrong")
'''


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()

"""``make run``: migrate, create the admin on first start, serve until Ctrl-C.

The web server or the worker that dies is restarted (``Stack.supervise``: back-off, a log line)
while the other keeps serving. Ctrl-C or SIGTERM stops both cleanly: SIGTERM to each, the grace
period (``LAMBDA_SHUTDOWN_GRACE_SECONDS``, 30) for in-flight work, then SIGKILL; a second Ctrl-C
kills them at once.

Environment: PORT (default 8000), LISTEN_ADDRESS (default ``::``, IPv4 and IPv6), DATA_DIR,
LAMBDA_SHUTDOWN_GRACE_SECONDS and everything config/settings.py reads.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.stack import ROOT, Stack, StackError  # noqa: E402


def _parse(lines: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines.splitlines() if "=" in line)


def _banner(stack: Stack, created: dict[str, str], sandbox: str) -> str:
    url = stack.endpoint
    out = ["", "=" * 72, f"  Lambda Workbench is running at {url}/"]
    if stack.endpoint_v6:
        out.append(f"  (and over IPv6 at {stack.endpoint_v6}/)")
    out += ["", f"  {sandbox}"]
    if created:
        out += [
            "",
            "  First start: an admin user and an API key were created.",
            "  They are shown only this once — save them now.",
            "",
            f"  Console login:  username {created['USERNAME']}   password {created['PASSWORD']}",
            "",
            f"  AWS_ACCESS_KEY_ID={created['AWS_ACCESS_KEY_ID']}",
            f"  AWS_SECRET_ACCESS_KEY={created['AWS_SECRET_ACCESS_KEY']}",
            "",
            "  Try it:",
            f"    export AWS_ACCESS_KEY_ID={created['AWS_ACCESS_KEY_ID']}",
            f"    export AWS_SECRET_ACCESS_KEY={created['AWS_SECRET_ACCESS_KEY']}",
            "    export AWS_DEFAULT_REGION=us-east-1",
            f"    aws lambda list-functions --endpoint-url {url}",
        ]
    else:
        out += [
            "",
            "  Log in as admin with the password printed on the first start.",
            "  A new API key:  .venv/bin/python manage.py createaccesskey admin",
            f"  Then:           aws lambda list-functions --endpoint-url {url}",
        ]
    out += ["", "  A server or worker that dies is restarted. Ctrl-C stops both.", "=" * 72, ""]
    return "\n".join(out)


class _Signals:
    """Ctrl-C / SIGTERM as flags, never as an exception in the middle of starting a child.

    The first signal asks the supervisor to stop; any later one asks the shutdown to hurry.
    """

    HANDLED: Final = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received = 0

    def install(self) -> None:
        # Explicitly: a process started in the background inherits SIGINT ignored.
        for signum in self.HANDLED:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # Only a counter: printing here could re-enter a print the main thread is in the middle of.
        self.received += 1

    def stop_requested(self) -> bool:
        return self.received >= 1

    def hurry(self) -> bool:
        return self.received >= 2


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "var"))
    stack = Stack(data_dir, port=port)
    signals = _Signals()
    signals.install()
    if stack.port_in_use():
        print(f"Port {port} is already in use; set PORT to another port.", file=sys.stderr)
        return 1
    try:
        print(f"Preparing {data_dir} (migrations, static files)…", flush=True)
        stack.prepare()
        created = _parse(stack.manage("bootstrapadmin", "--username", "admin"))
        # How functions are isolated here, or why they will not run (the nodes refuse, not downgrade).
        sandbox = stack.manage("sandbox", check=False).strip()
        if signals.stop_requested():
            return 0
        stack.start(prepare=False)
        print(_banner(stack, created, sandbox), flush=True)
        stack.supervise(signals.stop_requested)
        return 0
    except StackError as error:
        if signals.stop_requested():  # Ctrl-C reached a preparing manage.py too
            return 0
        print(error, file=sys.stderr)
        return 1
    finally:
        if signals.stop_requested():
            print("\nStopping… (Ctrl-C again to kill at once)", file=sys.stderr, flush=True)
        started = time.monotonic()
        stack.stop(hurry=signals.hurry)
        if signals.stop_requested():
            print(f"Stopped in {time.monotonic() - started:.1f} s.", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

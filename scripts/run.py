"""``make run``: migrate, create the admin on first start, serve until Ctrl-C.

Environment: PORT (default 8000), LISTEN_ADDRESS (default ``::``, IPv4 and IPv6), DATA_DIR and
everything config/settings.py reads.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType

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
    out += ["", "  Ctrl-C stops the server and the worker.", "=" * 72, ""]
    return "\n".join(out)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "var"))
    stack = Stack(data_dir, port=port)
    # Explicitly: a process started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if stack.port_in_use():
        print(f"Port {port} is already in use; set PORT to another port.", file=sys.stderr)
        return 1
    try:
        print(f"Preparing {data_dir} (migrations, static files)…", flush=True)
        stack.prepare()
        created = _parse(stack.manage("bootstrapadmin", "--username", "admin"))
        # How functions are isolated here, or why they will not run (the nodes refuse, not downgrade).
        sandbox = stack.manage("sandbox", check=False).strip()
        stack.start(prepare=False)
        print(_banner(stack, created, sandbox), flush=True)
        status = stack.wait()
        print(f"A process exited unexpectedly (status {status}); stopping.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    except StackError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C during shutdown must not leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())

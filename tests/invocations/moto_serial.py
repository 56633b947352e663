"""moto's server with SQS ReceiveMessage made atomic (run as a script with moto_server's arguments).

moto 5.2.5's ``SQSBackend.receive_message`` checks that a message is visible and then marks it
received without a lock, and its server runs each request in its own thread: two concurrent
ReceiveMessage calls on one queue can both take the same message (seen as a message processed twice
by two pollers 1 s apart, far inside its 30 s visibility timeout). Real SQS hides a received
message from every other receiver. Here each receive scans the queue under one lock, without
waiting; the long poll waits outside the lock and scans again, so one slow long poll never blocks
the others.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from moto.server import main
from moto.sqs.models import SQSBackend

_scan = SQSBackend.receive_message
_lock = threading.Lock()
POLL_SECONDS = 0.05


def receive_message(self: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any, **kwargs: Any) -> Any:
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    while True:
        with _lock:
            found = _scan(self, queue_name, count, 0, *args, **kwargs)
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_SECONDS)


SQSBackend.receive_message = receive_message  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])

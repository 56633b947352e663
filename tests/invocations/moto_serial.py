"""moto's server with SQS ReceiveMessage made atomic (run as a script with moto_server's arguments).

moto 5.2.5's ``SQSBackend.receive_message`` checks that a message is visible and then marks it
received without a lock, and its server runs each request in its own thread: two concurrent
ReceiveMessage calls on one queue can both take the same message (seen as a message processed twice
by two pollers 1 s apart, far inside its 30 s visibility timeout). Real SQS hides a received
message from every other receiver. Here each receive scans the queue under one lock, without
waiting; the long poll waits outside the lock exactly as moto's own loop does (for a new message or
at most 1 s) and scans again, so one slow long poll never blocks the others and moto's timing is
unchanged.
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


def receive_message(self: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any, **kwargs: Any) -> Any:
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    while True:
        with _lock:
            found = _scan(self, queue_name, count, 0, *args, **kwargs)
        if found or time.monotonic() >= deadline:
            return found
        self.get_queue(queue_name).wait_for_messages(1)


SQSBackend.receive_message = receive_message  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])

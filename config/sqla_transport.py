"""kombu's SQLAlchemy transport (the embedded broker), deleting each message as it is delivered.

kombu 5.7 marks a delivered message ``visible = False`` and never deletes it, while every fetch
looks for the oldest visible message through the timestamp index — so each fetch walks past every
message ever delivered. Measured here: after 20,000 messages an empty poll took 3.9 ms, and at
``make run``'s 20 polls a second per queue that grows without end. The table's rows are not what
redelivers a message anyway: the worker keeps unacknowledged messages in memory (kombu's QoS) and
puts them back when it stops, and a worker killed outright is covered by the event sweep
(invocations/services/async_events.py). So delivery deletes the row, in the same transaction that
claims it, and the first fetch of a queue clears what older versions left behind.

Its SQLite file runs in WAL mode without an fsync per commit (see ``_sqlite_pragmas``), and it
polls every 50 ms instead of kombu's 1 s (passing ``polling_interval`` through
``broker_transport_options`` raises TypeError in kombu 5.7: it reaches ``create_engine``;
MACHINE-FACTS.md). ``config/celery.py`` registers this class for ``sqla+`` broker URLs.
"""

from __future__ import annotations

from json import loads
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import event, text

POLLING_INTERVAL_SECONDS = 0.05


class Channel(sqlalchemy.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cleared: set[str] = set()

    def _engine_from_config(self) -> Any:
        engine = super()._engine_from_config()
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    def _get(self, queue: str, timeout: Any = None) -> Any:
        found = self._get_or_create(queue)
        message_cls = self.message_cls
        if queue not in self._cleared:
            self.session.query(message_cls).filter(message_cls.queue_id == found.id).filter(
                message_cls.visible == False  # noqa: E712 - SQL, not Python
            ).delete(synchronize_session=False)
            self.session.commit()
            self._cleared.add(queue)
        if self.session.bind.name == "sqlite":
            self.session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            message = (
                self.session.query(message_cls)
                .with_for_update()
                .filter(message_cls.queue_id == found.id)
                .filter(message_cls.visible != False)  # noqa: E712 - SQL, not Python
                .order_by(message_cls.sent_at)
                .order_by(message_cls.id)
                .limit(1)
                .first()
            )
            if message is None:
                raise Empty()
            payload = message.payload
            self.session.delete(message)
            return loads(bytes_to_str(payload))
        finally:
            self.session.commit()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL, and no fsync per commit: a publish or a fetch commits in ≈ 0.1 ms instead of waiting for
    # the disk. A message lost to a power cut is republished by the event sweep from the database
    # row, which is the source of truth (invocations/services/async_events.py).
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class Transport(sqlalchemy.Transport):
    Channel = Channel
    polling_interval = POLLING_INTERVAL_SECONDS  # a Transport attribute in kombu's virtual transports

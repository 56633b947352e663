"""The embedded broker's transport (config/sqla_transport.py) on a SQLite file of its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kombu import Connection
from kombu.transport import resolve_transport

import config.celery  # noqa: F401 - registers the alias
from config import sqla_transport


def count(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        total, visible = db.execute("SELECT COUNT(*), COALESCE(SUM(visible), 0) FROM kombu_message").fetchone()
    return int(total), int(visible)


def test_sqla_urls_get_our_transport() -> None:
    assert resolve_transport("sqla") is sqla_transport.Transport
    assert sqla_transport.Transport.polling_interval == sqla_transport.POLLING_INTERVAL_SECONDS


def test_a_delivered_message_leaves_no_row_behind(tmp_path: Path) -> None:
    path = tmp_path / "broker.sqlite3"
    with Connection(f"sqla+sqlite:///{path}") as connection:
        with connection.SimpleQueue("q") as queue:
            for n in range(5):
                queue.put({"n": n})
            assert count(path) == (5, 5)
            received = []
            for _ in range(5):
                message = queue.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
    assert received == [0, 1, 2, 3, 4]
    assert count(path) == (0, 0)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_first_fetch_clears_what_kombus_own_transport_left(tmp_path: Path) -> None:
    path = tmp_path / "broker.sqlite3"
    with Connection(f"sqla+sqlite:///{path}") as connection:
        with connection.SimpleQueue("q") as queue:
            queue.put({"n": 1})
            queue.put({"n": 2})
    with sqlite3.connect(path) as db:  # as kombu's transport leaves a delivered message
        db.execute("UPDATE kombu_message SET visible = 0 WHERE id = (SELECT MIN(id) FROM kombu_message)")
    with Connection(f"sqla+sqlite:///{path}") as connection:
        with connection.SimpleQueue("q") as queue:
            message = queue.get(timeout=5)
            message.ack()
    assert message.payload == {"n": 2}
    assert count(path) == (0, 0)

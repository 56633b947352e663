"""RabbitMQ queues, with Amazon MQ for RabbitMQ's event shape (spec §8.2, ``aws:rmq``).

The mapping names the broker by ``source_url`` (``amqp://user:pass@host:port/vhost``, ``amqps://``
for TLS) and the queue by ``queues[0]``; there is one poll unit, the queue. ``run_slice`` consumes
with a prefetch of ``BatchSize`` (so the broker never hands this poller more than one batch),
collects up to ``BatchSize`` messages within ``MaximumBatchingWindowInSeconds`` (500 ms when 0, as
for Amazon MQ), cuts before 6 MB, invokes, then acks every message of a batch that succeeded and
nacks with ``requeue`` every message of one that failed: the broker delivers them again, flagged
``redelivered``. Messages dropped by ``FilterCriteria`` are acked (discarded, as AWS does).

At the end of a slice the consumer is cancelled first; messages the broker had already sent are
processed in the last batch, and anything still unacknowledged when the channel closes goes back to
the queue (marked redelivered by the broker).
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from django.conf import settings

from invocations.event_sources import filtering
from invocations.event_sources.base import MAX_BATCH_PAYLOAD_BYTES, Invoker
from invocations.models import EventSourceMapping

logger = logging.getLogger(__name__)

KIND: Final = "rabbitmq"
DEFAULT_WINDOW_SECONDS: Final = 0.5  # Amazon MQ's default batching window
CONNECT_TIMEOUT_SECONDS: Final = 5.0


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    userid: str
    password: str
    vhost: str
    ssl: bool


def parse_url(url: str) -> Broker:
    """``amqp://user:pass@host:port/vhost``: the vhost is the path, URL-decoded; none (or ``/``)
    means ``/``, as in RabbitMQ's URI spec (``%2F`` for an explicit ``/``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        raise ValueError(f"not an AMQP URL: {url}")
    secure = parts.scheme == "amqps"
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return Broker(
        host=parts.hostname,
        port=parts.port or (5671 if secure else 5672),
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        vhost=unquote(path) or "/",
        ssl=secure,
    )


# --- the event -------------------------------------------------------------------------------------


def _signed_bytes(data: bytes) -> list[int]:
    """Java's byte[] as JSON (Amazon MQ's event is produced by Java): signed integers."""
    return [b - 256 if b > 127 else b for b in data]


def _java_date(value: datetime) -> str:
    """Gson's default date format, as in Amazon MQ's events: ``Jan 1, 1970, 12:33:41 AM`` (UTC)."""
    value = value.astimezone(dt_timezone.utc) if value.tzinfo else value
    hour = value.hour % 12 or 12
    return f"{value:%b} {value.day}, {value.year}, {hour}:{value:%M:%S} {'AM' if value.hour < 12 else 'PM'}"


def _timestamp(value: Any) -> str | None:
    """AMQP's timestamp (epoch seconds; py-amqp may give a datetime) as a Java date string."""
    if isinstance(value, datetime):
        return _java_date(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _java_date(datetime.fromtimestamp(value, tz=dt_timezone.utc))
    return None


def _header_value(value: Any) -> Any:
    if isinstance(value, str):
        return {"bytes": _signed_bytes(value.encode())}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": _signed_bytes(bytes(value))}
    if isinstance(value, datetime):
        return _java_date(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _header_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_header_value(v) for v in value]
    return value


def basic_properties(properties: dict[str, Any], body_size: int) -> dict[str, Any]:
    """AMQP basic properties as Amazon MQ spells them (every key, null when unset)."""
    timestamp = properties.get("timestamp")
    headers = properties.get("application_headers")
    return {
        "contentType": properties.get("content_type"),
        "contentEncoding": properties.get("content_encoding"),
        "headers": _header_value(headers) if headers is not None else None,
        "deliveryMode": properties.get("delivery_mode"),
        "priority": properties.get("priority"),
        "correlationId": properties.get("correlation_id"),
        "replyTo": properties.get("reply_to"),
        "expiration": properties.get("expiration"),
        "messageId": properties.get("message_id"),
        "timestamp": _timestamp(timestamp),
        "type": properties.get("type"),
        "userId": properties.get("user_id"),
        "appId": properties.get("app_id"),
        "clusterId": properties.get("cluster_id"),
        "bodySize": body_size,
    }


@dataclass
class Delivery:
    delivery_tag: int
    entry: dict[str, Any]  # the message as in the event's rmqMessagesByQueue list
    size: int  # bytes it adds to the event JSON


def delivery_of(message: Any) -> Delivery:
    body = message.body
    if isinstance(body, str):
        body = body.encode()
    body = bytes(body or b"")
    entry = {
        "basicProperties": basic_properties(dict(message.properties or {}), len(body)),
        "redelivered": bool(message.delivery_info.get("redelivered")),
        "data": base64.b64encode(body).decode(),
    }
    size = len(json.dumps(entry, separators=(",", ":"))) + 1
    return Delivery(delivery_tag=message.delivery_info["delivery_tag"], entry=entry, size=size)


def queue_key(queue: str, vhost: str) -> str:
    return f"{queue}::{vhost}"


def batch_event(mapping: EventSourceMapping, key: str, deliveries: list[Delivery]) -> dict[str, Any]:
    return {
        "eventSource": "aws:rmq",
        "eventSourceArn": mapping.event_source_arn,
        "rmqMessagesByQueue": {key: [d.entry for d in deliveries]},
    }


def filter_view(delivery: Delivery) -> dict[str, Any]:
    """What FilterCriteria patterns see: the message with ``data`` decoded from base64 — parsed
    when it is a JSON object (``filtering.filter_view``), else its text."""
    view = dict(delivery.entry)
    try:
        view["data"] = base64.b64decode(view["data"]).decode()
    except ValueError:  # not UTF-8: only the base64 text can match
        pass
    return filtering.filter_view(view, "data")


def record_filter(mapping: EventSourceMapping) -> Callable[[dict[str, Any]], bool] | None:
    criteria = filtering.parse_criteria(mapping.filter_criteria or None)
    return criteria.matches if criteria.patterns else None


# --- the source -----------------------------------------------------------------------------------------


class RabbitMQSource:
    kind = KIND

    def units(self, mapping: EventSourceMapping) -> list[str]:
        return [mapping.queues[0]] if mapping.queues else []

    def run_slice(self, mapping: EventSourceMapping, unit: str, *, deadline: float, invoke: Invoker) -> None:
        import amqp

        broker = parse_url(mapping.source_url)
        connection = amqp.Connection(
            host=f"{broker.host}:{broker.port}",
            userid=broker.userid,
            password=broker.password,
            virtual_host=broker.vhost,
            ssl=broker.ssl,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        try:
            connection.connect()
        except (OSError, amqp.exceptions.AMQPError) as error:
            logger.warning("mapping %s: cannot connect to %s:%s: %s", mapping.uuid, broker.host, broker.port, error)
            time.sleep(max(0.0, min(settings.LAMBDA_RABBITMQ_RECONNECT_SECONDS, deadline - time.monotonic())))
            return
        try:
            _Consumer(mapping, unit, broker, connection, invoke).run(deadline)
        except (OSError, amqp.exceptions.AMQPError) as error:
            logger.warning("mapping %s: lost %s:%s: %s", mapping.uuid, broker.host, broker.port, error)
        finally:
            try:
                connection.close()
            except Exception:  # the connection may already be gone; the broker requeues on its own
                connection.collect()


class _Consumer:
    def __init__(self, mapping: EventSourceMapping, queue: str, broker: Broker, connection: Any, invoke: Invoker) -> None:
        self.mapping = mapping
        self.queue = queue
        self.key = queue_key(queue, broker.vhost)
        self.connection = connection
        self.invoke = invoke
        self.keep = record_filter(mapping)
        self.channel = connection.channel()
        self.received: deque[Any] = deque()
        self.window = float(mapping.maximum_batching_window_in_seconds) or DEFAULT_WINDOW_SECONDS

    def run(self, deadline: float) -> None:
        self.channel.basic_qos(prefetch_size=0, prefetch_count=min(self.mapping.batch_size, 65535), a_global=False)
        tag = self.channel.basic_consume(queue=self.queue, callback=self.received.append, no_ack=False)
        consuming = True
        while True:
            batch = self._collect(deadline)
            if consuming and time.monotonic() >= deadline:
                # Stop deliveries, then take in what the broker had already sent.
                self.channel.basic_cancel(tag)
                consuming = False
                self._drain(0.05)
                batch.extend(self._take(batch))
            if batch:
                self._process(batch, deadline)
            if not consuming and not self.received:
                return
            if not consuming:
                continue  # what did not fit in the last batch (6 MB) goes in another

    def _drain(self, timeout: float) -> None:
        try:
            self.connection.drain_events(timeout=max(0.0, timeout))
        except socket.timeout:
            pass

    def _take(self, batch: list[Delivery]) -> list[Delivery]:
        """Received messages that fit in `batch` (count, 6 MB), filtered ones acked."""
        taken: list[Delivery] = []
        size = len(json.dumps(batch_event(self.mapping, self.key, []))) + sum(d.size for d in batch)
        while self.received and len(batch) + len(taken) < self.mapping.batch_size:
            delivery = delivery_of(self.received[0])
            if self.keep is not None and not self.keep(filter_view(delivery)):
                self.received.popleft()
                self.channel.basic_ack(delivery.delivery_tag)
                continue
            if (batch or taken) and size + delivery.size > MAX_BATCH_PAYLOAD_BYTES:
                break
            self.received.popleft()
            taken.append(delivery)
            size += delivery.size
        return taken

    def _collect(self, deadline: float) -> list[Delivery]:
        batch: list[Delivery] = []
        window_end: float | None = None
        while True:
            batch.extend(self._take(batch))
            if batch and window_end is None:
                window_end = time.monotonic() + self.window
            full = len(batch) >= self.mapping.batch_size or (self.received and batch)  # count or 6 MB
            now = time.monotonic()
            if full or now >= deadline or (window_end is not None and now >= window_end):
                return batch
            self._drain(min(deadline, window_end or deadline) - now)

    def _process(self, batch: list[Delivery], deadline: float) -> None:
        result = self.invoke(batch_event(self.mapping, self.key, batch))
        if result.failed:
            for delivery in batch:
                self.channel.basic_reject(delivery.delivery_tag, requeue=True)
            # The broker hands the batch back at once: pause before the next attempt.
            pause = settings.LAMBDA_RABBITMQ_RETRY_DELAY_SECONDS
            time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
            return
        for delivery in batch:
            self.channel.basic_ack(delivery.delivery_tag)


SOURCE: Final = RabbitMQSource()

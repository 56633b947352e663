"""Relaying a namespace's loopback to the host's loopback, on the pool's event loop.

A connection accepted on ``127.0.0.1:PORT`` inside an environment's namespace (the listening socket
was made there by a builder thread, see ``slots.py``) is joined to a new connection to the same port
on the host's loopback. Bytes are copied both ways with back-pressure (a side that cannot keep up
pauses the other's reading); a half-close is passed on; both sockets get TCP_NODELAY, since a relay
that adds Nagle's delay to every request/response exchange would add ≈ 40 ms to each (MACHINE-FACTS.md).
"""

from __future__ import annotations

import asyncio
import logging
import socket

logger = logging.getLogger(__name__)

HIGH_WATER = 256 * 1024


def _nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Side(asyncio.Protocol):
    """One end of a relayed connection; ``peer`` is the other end once both exist."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending = bytearray()  # what arrived before the peer was connected
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        _nodelay(transport)
        transport.set_write_buffer_limits(high=HIGH_WATER)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending += data
            if len(self.pending) > HIGH_WATER and self.transport is not None:
                self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is not None and peer.transport is not None:
            if peer.eof:  # both directions are done
                peer.transport.close()
                return False
            if peer.transport.can_write_eof():
                peer.transport.write_eof()
        return True  # keep our writing side open until the peer is done

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    # flow control: our write buffer is full → stop reading from the peer
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def join(self, peer: _Side) -> None:
        self.peer, peer.peer = peer, self
        if self.pending and peer.transport is not None:
            peer.transport.write(bytes(self.pending))
            self.pending.clear()
            if self.transport is not None:
                self.transport.resume_reading()
        if self.eof and peer.transport is not None and peer.transport.can_write_eof():
            peer.transport.write_eof()


class _Inbound(_Side):
    """The namespace side: on accept, connect to the host's loopback and join the two."""

    def __init__(self, family: int, port: int) -> None:
        super().__init__()
        self.family = family
        self.port = port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        host = "127.0.0.1" if self.family == socket.AF_INET else "::1"
        loop = asyncio.get_running_loop()
        try:
            _, outbound = await loop.create_connection(_Side, host, self.port)
        except OSError:
            if self.transport is not None:
                self.transport.abort()  # the caller sees a reset, as for a closed port
            return
        if self.transport is None:  # the function gave up meanwhile
            outbound.transport.close()  # type: ignore[union-attr]
            return
        self.join(outbound)


async def serve(sock: socket.socket, family: int, port: int) -> asyncio.AbstractServer:
    """Start relaying connections accepted on ``sock`` (already listening, in some namespace)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Inbound(family, port), sock=sock)

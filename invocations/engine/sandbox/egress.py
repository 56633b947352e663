"""What an environment may reach outside itself: the egress policy, as data and as nftables rules.

Each environment has its own network namespace. Two ways lead out of it (ARCHITECTURE.md, "Trust
boundaries"):

- **the host's loopback services at their usual addresses**: the platform binds, inside the
  namespace, ``127.0.0.1:PORT`` / ``[::1]:PORT`` for each port the host listens on, and relays
  connections to the host's own loopback (``forward.py``), so a function calls a local moto,
  LocalStack or the platform's own API as it would on the host;
- **everything else** through slirp4netns, a user-mode TCP/IP stack, started with
  ``--disable-host-loopback`` so that it never reaches the host's 127.0.0.1 by itself.

The platform's internal services (its database, broker and result store) are never reachable: their
loopback ports are not relayed, and an nftables table inside the namespace — owned by the initial
user namespace, so the function cannot change it — rejects their addresses and the host's own
addresses on their ports. ``LAMBDA_EGRESS`` chooses the policy:

- ``on`` (default): both ways out, minus the internal services;
- ``off``: nothing but the environment's own Runtime API;
- a comma-separated allow-list of ``ADDRESS[/PREFIX][:PORT]`` or ``NAME[:PORT]`` (``[v6]:PORT`` for
  IPv6): only those. ``127.0.0.1:4566`` or ``localhost:4566`` allows one loopback service; names
  are resolved when an environment's namespace is built.

This module is pure (parsing, reading /proc text, writing the ruleset); ``slots.py`` applies it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

RUNTIME_API_PORT = 9001  # AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001, as on Lambda
SLIRP_DNS = "10.0.2.3"  # slirp4netns's built-in DNS forwarder
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
V4_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class EgressError(ValueError):
    """LAMBDA_EGRESS cannot be understood."""


@dataclass(frozen=True)
class Destination:
    """One allow-list entry: a network or a name, with an optional port (None: every port)."""

    network: IPNetwork | None
    name: str | None
    port: int | None

    def covers(self, address: IPAddress, port: int) -> bool:
        return self.network is not None and address in self.network and self.port in (None, port)


@dataclass(frozen=True)
class EgressPolicy:
    mode: str  # "on" | "off" | "allow"
    allow: tuple[Destination, ...] = ()

    @property
    def needs_network(self) -> bool:
        """Whether environments get slirp4netns (anything beyond loopback)."""
        return self.mode == "on" or any(not _is_loopback_destination(d) for d in self.allow)

    def loopback_port_allowed(self, family: int, port: int, internal_ports: frozenset[int]) -> bool:
        if port == RUNTIME_API_PORT or port in internal_ports or self.mode == "off":
            return False
        if self.mode == "on":
            return True
        address = ipaddress.ip_address("127.0.0.1" if family == socket.AF_INET else "::1")
        return any(d.covers(address, port) or (d.name in LOOPBACK_NAMES and d.port in (None, port))
                   for d in self.allow)


def _is_loopback_destination(destination: Destination) -> bool:
    if destination.name is not None:
        return destination.name in LOOPBACK_NAMES
    return destination.network is not None and destination.network.network_address.is_loopback


def parse_policy(text: str) -> EgressPolicy:
    value = text.strip()
    if value.lower() in ("", "on", "all"):
        return EgressPolicy("on")
    if value.lower() in ("off", "none"):
        return EgressPolicy("off")
    return EgressPolicy("allow", tuple(_parse_destination(entry.strip()) for entry in value.split(",") if entry.strip()))


def _parse_destination(entry: str) -> Destination:
    host, port = _split_port(entry)
    try:
        return Destination(ipaddress.ip_network(host, strict=False), None, port)
    except ValueError:
        pass
    if not host or any(c in host for c in "/[]: ") or host.startswith(("-", ".")):
        raise EgressError(f"LAMBDA_EGRESS: {entry!r} is not an address, network or host name")
    return Destination(None, host.lower().rstrip("."), port)


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [v6] or [v6]:port
        host, _, rest = entry[1:].partition("]")
        return host, _port(rest[1:], entry) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, _port(port, entry)
    return entry, None  # a bare IPv6 address or network, or a name


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise EgressError(f"LAMBDA_EGRESS: {entry!r} has no valid port")
    return int(text)


# ----- what the host has ---------------------------------------------------------------------


@dataclass(frozen=True)
class Listener:
    family: int  # AF_INET or AF_INET6: the loopback the namespace side binds and the relay connects to
    port: int


def listening_ports(tcp: str, tcp6: str) -> frozenset[Listener]:
    """Host TCP listeners a function can reach through its own loopback, from /proc/net/tcp{,6}.

    Only sockets on 127.0.0.1 / ::1 or on the wildcard count: a service bound to 127.0.0.53 (say)
    is not at 127.0.0.1 on the host either.
    """
    found = set()
    for line in tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":
            address, port = fields[1].split(":")
            if address in ("0100007F", "00000000"):
                found.add(Listener(socket.AF_INET, int(port, 16)))
    for line in tcp6.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":
            address, port = fields[1].split(":")
            if address == "00000000000000000000000001000000":  # ::1
                found.add(Listener(socket.AF_INET6, int(port, 16)))
            elif address == "0" * 32:  # :: (dual stack unless IPV6_V6ONLY: both loopbacks)
                found.add(Listener(socket.AF_INET6, int(port, 16)))
                found.add(Listener(socket.AF_INET, int(port, 16)))
    return frozenset(found)


def host_addresses(fib_trie: str, if_inet6: str) -> frozenset[IPAddress]:
    """This machine's own non-loopback addresses (/proc/net/fib_trie LOCAL entries, /proc/net/if_inet6)."""
    found: set[IPAddress] = set()
    previous = ""
    for line in fib_trie.splitlines():
        stripped = line.strip()
        if stripped.startswith("/32 host LOCAL") and previous:
            found.add(ipaddress.ip_address(previous))
        if stripped.startswith(("|--", "+--")):
            previous = stripped.split()[-1]
    for line in if_inet6.splitlines():
        fields = line.split()
        if fields:
            text = ":".join(fields[0][i:i + 4] for i in range(0, 32, 4))
            found.add(ipaddress.ip_address(text))
    return frozenset(a for a in found if not a.is_loopback)


def read_proc(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


# ----- the platform's internal services ---------------------------------------------------------


@dataclass(frozen=True)
class Internal:
    """Where the platform's own services listen, resolved to what the rules need."""

    loopback_ports: frozenset[int] = frozenset()  # never relayed from the namespace's loopback
    pairs: frozenset[tuple[IPAddress, int]] = field(default_factory=frozenset)  # rejected on the way out


def internal_services(endpoints: Iterable[tuple[str, int]], own_addresses: frozenset[IPAddress]) -> Internal:
    """``endpoints`` are (host, port) of the database, broker and result store. A loopback or
    wildcard one is also reachable at every address of this machine, so each of those is paired
    with its port too."""
    loopback_ports: set[int] = set()
    pairs: set[tuple[IPAddress, int]] = set()
    for host, port in endpoints:
        for address in resolve(host):
            if address.is_loopback or address.is_unspecified:
                loopback_ports.add(port)
                pairs.update((own, port) for own in own_addresses)
            else:
                pairs.add((address, port))
    return Internal(frozenset(loopback_ports), frozenset(pairs))


def resolve(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return sorted({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}, key=str)


# ----- the nftables table inside a namespace ---------------------------------------------------------


def ruleset(policy: EgressPolicy, internal: Internal) -> str:
    """The ``nft -f`` text for one namespace's output chain (traffic it sends; nothing comes in
    but replies, since slirp4netns forwards no port into it)."""
    lines = ["table inet lambda_egress {", "  chain output {",
             f"    type filter hook output priority 0; policy {'accept' if policy.mode == 'on' else 'drop'};",
             '    oifname "lo" accept']
    for address, port in sorted(internal.pairs, key=lambda p: (p[0].version, str(p[0]), p[1])):
        family = "ip" if address.version == 4 else "ip6"
        lines.append(f"    {family} daddr {address} tcp dport {port} reject with tcp reset")
    if policy.mode == "allow":
        lines.append("    ct state established,related accept")
        if any(d.name is not None for d in policy.allow):
            lines.append(f"    ip daddr {SLIRP_DNS} udp dport 53 accept")
            lines.append(f"    ip daddr {SLIRP_DNS} tcp dport 53 accept")
        for destination in policy.allow:
            for network in _networks(destination):
                family = "ip" if network.version == 4 else "ip6"
                ports = "" if destination.port is None else f" th dport {destination.port}"
                lines.append(f"    {family} daddr {network}{ports} accept")
        lines.append("    meta l4proto tcp reject with tcp reset")
        lines.append("    reject")
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def _networks(destination: Destination) -> list[IPNetwork]:
    if destination.network is not None:
        return [destination.network]
    if destination.name in LOOPBACK_NAMES:
        return []  # loopback goes through the relay, not through the namespace's interface
    return [ipaddress.ip_network(address) for address in resolve(destination.name or "")]

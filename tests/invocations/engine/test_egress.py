"""The egress policy as data: parsing LAMBDA_EGRESS, reading /proc, writing the nftables table (pure)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from invocations.engine.sandbox.egress import (
    Destination,
    EgressError,
    Internal,
    Listener,
    host_addresses,
    internal_services,
    listening_ports,
    parse_policy,
    ruleset,
)


@pytest.mark.parametrize(("text", "mode"), [("", "on"), ("on", "on"), ("ALL", "on"), ("off", "off"), ("none", "off")])
def test_the_named_policies(text: str, mode: str) -> None:
    assert parse_policy(text).mode == mode


def test_an_allow_list_takes_addresses_networks_names_and_ports() -> None:
    policy = parse_policy("10.0.0.0/8, 192.0.2.7:443,[::1]:8000, example.com:443,localhost:4566,2001:db8::/32")
    assert policy.mode == "allow"
    assert policy.allow == (
        Destination(ipaddress.ip_network("10.0.0.0/8"), None, None),
        Destination(ipaddress.ip_network("192.0.2.7/32"), None, 443),
        Destination(ipaddress.ip_network("::1/128"), None, 8000),
        Destination(None, "example.com", 443),
        Destination(None, "localhost", 4566),
        Destination(ipaddress.ip_network("2001:db8::/32"), None, None),
    )
    assert policy.needs_network


@pytest.mark.parametrize("text", ["bad host", "10.0.0.1:0", "10.0.0.1:99999", "[::1]:x", "-rf", "a/b"])
def test_a_malformed_entry_is_refused_with_its_text(text: str) -> None:
    with pytest.raises(EgressError, match="LAMBDA_EGRESS"):
        parse_policy(text)


def test_which_loopback_ports_are_relayed() -> None:
    internal = frozenset({5432})
    on, off = parse_policy("on"), parse_policy("off")
    only = parse_policy("127.0.0.1:4566,localhost:8000")
    assert on.loopback_port_allowed(socket.AF_INET, 4566, internal)
    assert not on.loopback_port_allowed(socket.AF_INET, 5432, internal)  # the platform's database
    assert not on.loopback_port_allowed(socket.AF_INET, 9001, internal)  # the environment's own Runtime API
    assert not off.loopback_port_allowed(socket.AF_INET, 4566, internal)
    assert only.loopback_port_allowed(socket.AF_INET, 4566, internal)
    assert only.loopback_port_allowed(socket.AF_INET6, 8000, internal)
    assert not only.loopback_port_allowed(socket.AF_INET, 4567, internal)
    assert not only.needs_network  # loopback only: no user-mode stack


TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 3500007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:1F41 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4 1
"""
TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:11D7 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A
"""


def test_listening_ports_are_read_from_proc_net_tcp() -> None:
    assert listening_ports(TCP, TCP6) == {
        Listener(socket.AF_INET, 8000), Listener(socket.AF_INET, 22),  # 127.0.0.1 and the wildcard
        Listener(socket.AF_INET6, 4567), Listener(socket.AF_INET, 4567),  # [::] serves both loopbacks
        Listener(socket.AF_INET6, 8080),
    }  # not 127.0.0.53:53 (not at 127.0.0.1), not an established connection


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        |-- 127.0.0.1
           /32 host LOCAL
     |-- 192.0.2.2
        /32 host LOCAL
     |-- 192.0.2.255
        /32 link BROADCAST
"""
IF_INET6 = "fd000000000000000000000000000002 02 40 00 80     eth0\n00000000000000000000000000000001 01 80 10 80       lo\n"


def test_host_addresses_are_the_local_ones_but_loopback() -> None:
    assert host_addresses(FIB_TRIE, IF_INET6) == {ipaddress.ip_address("192.0.2.2"), ipaddress.ip_address("fd00::2")}


def test_a_loopback_internal_service_is_also_blocked_at_the_hosts_own_addresses() -> None:
    own = frozenset({ipaddress.ip_address("192.0.2.2")})
    internal = internal_services([("127.0.0.1", 5432), ("10.1.2.3", 6379)], own)
    assert internal.loopback_ports == {5432}
    assert internal.pairs == {(ipaddress.ip_address("192.0.2.2"), 5432), (ipaddress.ip_address("10.1.2.3"), 6379)}


def test_the_table_rejects_internal_services_and_keeps_loopback() -> None:
    internal = Internal(frozenset({5432}), frozenset({(ipaddress.ip_address("192.0.2.2"), 5432)}))
    text = ruleset(parse_policy("on"), internal)
    assert "policy accept;" in text and 'oifname "lo" accept' in text
    assert "ip daddr 192.0.2.2 tcp dport 5432 reject with tcp reset" in text


def test_an_allow_list_table_drops_the_rest() -> None:
    text = ruleset(parse_policy("10.0.0.0/8,192.0.2.7:443"), Internal())
    assert "policy drop;" in text
    assert "ip daddr 10.0.0.0/8 accept" in text and "ip daddr 192.0.2.7/32 th dport 443 accept" in text
    assert text.index("accept") < text.index("meta l4proto tcp reject with tcp reset")

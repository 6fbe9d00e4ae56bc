"""The address guard: which addresses count as public, and that a connection goes to the address checked.

No test here connects to a non-loopback address: names resolve through a stub resolver, and where a public
address must be "reached", a recording network backend stands in for the network and opens nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from typing import Any

import httpcore
import pytest

from ponder.server.address_guard import (
    AddressRefusedError,
    GuardedBackend,
    IPAddress,
    SystemResolver,
    UnresolvableHostError,
    is_public,
)

NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "0.0.0.0",
    "100.64.0.1",  # carrier-grade NAT
    "192.0.2.1",  # documentation
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
]
PUBLIC = ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_private_loopback_link_local_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_global_unicast_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


class StubResolver:
    """Answers from a table; counts its lookups."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host not in self.table:
            raise UnresolvableHostError("its host could not be resolved")
        return [ipaddress.ip_address(a) for a in self.table[host]]


class RecordingNetwork(httpcore.AsyncNetworkBackend):
    """Stands in for the network: records where a connection would go, and refuses it."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        raise httpcore.ConnectError("the recording network connects nowhere")


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["::ffff:127.0.0.1"],
        ["10.0.0.7"],
        ["93.184.216.34", "192.168.0.2"],
    ],
)
async def test_a_public_looking_name_that_resolves_to_a_private_address_is_refused(answer: list[str]) -> None:
    network = RecordingNetwork()
    guard = GuardedBackend(StubResolver({"images.example.com": answer}), inner=network)
    with pytest.raises(AddressRefusedError) as info:
        await guard.connect_tcp("images.example.com", 443)
    assert network.connects == []  # refused before any connection
    assert not any(a in str(info.value) for a in answer)  # the message does not say what the name hides


async def test_the_connection_goes_to_the_address_checked_not_to_a_second_lookup() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # a rebinding DNS: public, then loopback

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in next(answers)]

    network = RecordingNetwork()
    guard = GuardedBackend(rebinding, inner=network)
    with pytest.raises(httpcore.ConnectError):
        await guard.connect_tcp("rebind.example.com", 80)
    assert network.connects == [("93.184.216.34", 80)]  # one lookup, its address connected to
    with pytest.raises(AddressRefusedError):  # the second lookup's answer is checked again
        await guard.connect_tcp("rebind.example.com", 80)
    assert network.connects == [("93.184.216.34", 80)]


async def test_every_address_of_a_name_is_tried_in_order() -> None:
    network = RecordingNetwork()
    guard = GuardedBackend(StubResolver({"cdn.example.com": ["8.8.8.8", "8.8.4.4"]}), inner=network)
    with pytest.raises(httpcore.ConnectError):
        await guard.connect_tcp("cdn.example.com", 80)
    assert network.connects == [("8.8.8.8", 80), ("8.8.4.4", 80)]


async def test_with_public_only_off_any_address_is_connected_to_as_resolved() -> None:
    network = RecordingNetwork()
    guard = GuardedBackend(StubResolver({"nas.lan": ["192.168.1.20"]}), public_only=False, inner=network)
    with pytest.raises(httpcore.ConnectError):
        await guard.connect_tcp("nas.lan", 8080)
    assert network.connects == [("192.168.1.20", 8080)]


async def test_an_unknown_name_and_unix_sockets_are_refused() -> None:
    guard = GuardedBackend(StubResolver({}), inner=RecordingNetwork())
    with pytest.raises(UnresolvableHostError):
        await guard.connect_tcp("nowhere.example.com", 80)
    with pytest.raises(AddressRefusedError):
        await guard.connect_unix_socket("/var/run/docker.sock")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f.0.0.1", "127.0.0.1"),  # hexadecimal
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("017700000001", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("::1", "::1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
    ],
)
async def test_numeric_host_tricks_resolve_to_the_address_they_stand_for(host: str, address: str) -> None:
    # The system resolver parses numeric forms itself (no DNS query); the guard judges what it returns.
    assert await SystemResolver()(host, 80) == [ipaddress.ip_address(address)]
    network = RecordingNetwork()
    with pytest.raises(AddressRefusedError):
        await GuardedBackend(inner=network).connect_tcp(host, 80)
    assert network.connects == []


async def test_hanging_lookups_wait_in_threads_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def name_server_that_never_answers(*args: Any, **kwargs: Any) -> Any:
        release.wait(30)
        raise socket.gaierror("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", name_server_that_never_answers)
    resolver = SystemResolver(threads=2)
    # More hanging lookups than the default executor has threads (at most 32): none of them takes one.
    lookups = [asyncio.create_task(resolver(f"slow{i}.example.com", 80)) for i in range(40)]
    try:
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), 10) == "free"
    finally:
        release.set()
    for lookup in lookups:
        with pytest.raises(UnresolvableHostError):
            await lookup

"""Probes on the network: TCP, UDP and unix-socket connections to listeners the host opens."""

from __future__ import annotations

from .base import Observation, Probe
from .host import ProbeHost

__all__ = ["NETWORK_PROBES"]


def _arrived(host: ProbeHost, observation: Observation) -> str | None:
    seen = host.arrivals()
    return f"reached the host: {seen}" if seen else None


def _tcp_program(host: ProbeHost) -> str:
    return f"""
def connect(family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(address)
    s.sendall(b"escaped")
    return "CONNECTED"
for address in [("127.0.0.1", {host.tcp_port}), ("localhost", {host.tcp_port})]:
    attempt("tcp " + repr(address), lambda address=address: connect(socket.AF_INET, address))
attempt("tcp6 ::ffff:127.0.0.1", lambda: connect(socket.AF_INET6, ("::ffff:127.0.0.1", {host.tcp_port})))
attempt("raw socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP))
attempt("netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
attempt("tcp via syscall", lambda: syscall(41, 2, 1, 0))
hold(0.5)
"""


def _udp_program(host: ProbeHost) -> str:
    return f"""
def send():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return s.sendto(b"escaped", ("127.0.0.1", {host.udp_port}))
attempt("udp to the host's port", send)
attempt("udp via syscall", lambda: syscall(41, 2, 2, 0))
hold(0.5)
"""


def _unix_program(host: ProbeHost) -> str:
    return f"""
def connect(address):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(address)
    s.sendall(b"escaped")
    return "CONNECTED"
attempt("unix socket path", lambda: connect({host.unix_path!r}))
attempt("abstract unix socket", lambda: connect({host.abstract_name!r}))
attempt("unix via syscall", lambda: syscall(41, 1, 1, 0))
attempt("socketpair (allowed, stays inside)", lambda: len(socket.socketpair()))
hold(0.5)
"""


NETWORK_PROBES = (
    Probe("tcp_connect", "open a TCP connection to a host listener on loopback", _tcp_program, _arrived),
    Probe("udp_send", "send a UDP datagram to a host socket on loopback", _udp_program, _arrived),
    Probe("unix_connect", "connect to a host unix socket (a mode 0777 path, and an abstract name)",
          _unix_program, _arrived),
)  # fmt: skip

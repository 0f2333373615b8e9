"""Hosts an organisation's admin may point Stagegate at (IMAP inboxes, SMTP relays, webhooks).

An admin types a host; the server connects to it. Left open, that lets anyone with an admin
account probe the installation's own network (loopback, the private ranges, the cloud's
link-local metadata address) by comparing errors and timings. So a host is resolved and
every address it resolves to must be a public one, unless the installation allows internal
hosts (`ALLOW_INTERNAL_HOSTS=1`: tests, private networks). Check at save and again right
before each connection: a name that resolved to a public address yesterday may not today.
"""

import ipaddress
import socket

from flask import current_app


class HostRefused(Exception):
    """The host is not one Stagegate may connect to; the message is safe to show an admin."""


def internal_hosts_allowed() -> bool:
    return bool(current_app.config.get("ALLOW_INTERNAL_HOSTS"))


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (an IPv4-mapped IPv6 address is judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to; HostRefused when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise HostRefused(f"{host} could not be found (check the spelling).") from None
    return sorted({info[4][0] for info in infos})


def check_host(host: str, port: int, *, allow_internal: bool | None = None) -> list[str]:
    """Resolve `host` and refuse it unless every address is public (or internal hosts are allowed).

    Returns the addresses. The message never says which internal address a name resolved to.
    """
    host = (host or "").strip().rstrip(".")
    if not host:
        raise HostRefused("A host name is required.")
    if allow_internal is None:
        allow_internal = internal_hosts_allowed()
    addresses = resolve(host, port)
    if not allow_internal and not all(is_public(a) for a in addresses):
        raise HostRefused(f"{host} is a local or private network address; Stagegate connects only to "
                          "public hosts (the installation can allow internal ones with ALLOW_INTERNAL_HOSTS=1).")
    return addresses

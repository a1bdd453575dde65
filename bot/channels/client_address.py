"""The network address of the client behind a request: the socket peer, or what a trusted proxy reports.

The peer address of the TCP connection cannot be forged. `X-Forwarded-For` can, so it is only read
when the peer itself is one of the TRUSTED_PROXIES (addresses or networks such as 10.0.0.0/8); then
the client is the right-most address in the header that is not a trusted proxy (each proxy appends
the address it received the request from).
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any

METADATA_KEY = "client_address"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES entries as networks (a single address is a /32 or /128 network)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES must list IP addresses or networks such as 10.0.0.0/8, "
                             f"got {entry!r}") from None
    return tuple(networks)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [IPv6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # IPv4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Any, proxies: tuple[IPNetwork, ...]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[IPNetwork, ...]) -> str:
    """The client's address: `peer`, unless `peer` is a trusted proxy and `forwarded_for` names someone else."""
    peer_address = _address(peer or "")
    fallback = str(peer_address) if peer_address is not None else (peer or "unknown")
    if not forwarded_for or not _trusted(peer_address, trusted_proxies):
        return fallback
    hops = [_address(hop) for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if hop is None:
            return fallback  # a malformed entry: nothing left of it can be trusted
        if not _trusted(hop, trusted_proxies):
            return str(hop)
    return str(hops[0]) if hops and hops[0] is not None else fallback


def with_client_address(metadata: Any, address: str) -> dict[str, Any]:
    """The client's metadata (a dict or a JSON object as text, else none) with `client_address` set by the server."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    cleaned = dict(metadata) if isinstance(metadata, Mapping) else {}
    cleaned[METADATA_KEY] = address
    return cleaned

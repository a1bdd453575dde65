"""The load balancer in front of several Rasa servers: an haproxy configuration written from the settings.

- REST and provider webhooks (`/webhooks/...`), Rasa's HTTP API: round-robin over the live servers. Any server
  can take any message, because the conversations live in the shared tracker store and the atomic Redis lock
  (bot.scaling.lock_store) lets only one server at a time work on a conversation.
- socket.io (`/socket.io/`): sticky. Engine.io's long-polling sends every request of one session separately,
  and only the server that opened the session knows it. haproxy pins a client by a cookie it inserts
  (`rasa_server`), and, for clients that do not send it back (a widget on another origin does not send
  cookies with its polling requests), by a hash of the client address.
- Health: every server is asked `GET /` every 2 s (a busy server may take up to 10 s to answer); after three
  failures (a refused connection fails at once) it gets no new requests, and a
  request whose connection is refused is sent to another server (`option redispatch`). A request already
  running on a server that dies is answered 502: the client (or the messaging provider) sends it again.

`haproxy -f <file> -db` runs it in the foreground (`python -m bot.cli run-cluster` does that).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

HEALTH_INTERVAL_MS = 2000
# A server busy with hundreds of turns answers its health check slowly: only no answer within this long (or a
# refused connection, at once) counts as a failure.
HEALTH_TIMEOUT_S = 10
COOKIE_NAME = "rasa_server"


def haproxy_config(*, bind_host: str, bind_port: int, servers: Sequence[tuple[str, int]],
                   timeout_s: int = 120) -> str:
    """The configuration text for a balancer on bind_host:bind_port over the Rasa servers (host, port)."""
    if not servers:
        raise ValueError("the load balancer needs at least one Rasa server")
    health = f"check inter {HEALTH_INTERVAL_MS} fall 3 rise 2"
    round_robin = "\n".join(f"    server rasa{i} {host}:{port} {health}"
                            for i, (host, port) in enumerate(servers, start=1))
    sticky = "\n".join(f"    server rasa{i} {host}:{port} {health} cookie rasa{i}"
                       for i, (host, port) in enumerate(servers, start=1))
    return f"""# Written by bot.scaling.haproxy from the settings; edits are overwritten.
global
    maxconn 8192

defaults
    mode http
    option redispatch
    retries 3
    timeout connect 5s
    timeout client {timeout_s}s
    timeout server {timeout_s}s
    timeout tunnel 1h
    timeout check {HEALTH_TIMEOUT_S}s
    timeout http-keep-alive 10s

frontend rasa
    bind {bind_host}:{bind_port}
    option forwardfor
    acl is_socketio path_beg /socket.io/
    use_backend rasa_sticky if is_socketio
    default_backend rasa_round_robin

backend rasa_round_robin
    balance roundrobin
    option httpchk GET /
{round_robin}

backend rasa_sticky
    balance source
    hash-type consistent
    cookie {COOKIE_NAME} insert indirect nocache httponly
    option httpchk GET /
{sticky}
"""


def write_haproxy_config(target: Path, *, bind_host: str, bind_port: int,
                         servers: Sequence[tuple[str, int]]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(haproxy_config(bind_host=bind_host, bind_port=bind_port, servers=servers))
    return target


def haproxy_command(binary: str, config: Path) -> list[str]:
    """haproxy in the foreground (-db), so that a supervisor sees it exit."""
    return [binary, "-f", str(config), "-db"]

"""Several Rasa servers behind haproxy: the process commands, and a runner for tests and the load test.

Layout for N servers with the balancer on port P and the first action server on port A:

    load balancer     haproxy on P (bot.scaling.haproxy)
    rasa server i     P + i       (i = 1..N), endpoints file var/cluster/endpoints-<i>.yml
    action server i   A + i - 1   (each Rasa server calls its own action server)
    once:             web app, e-mail delivery, data retention, analytics consumer

All Rasa servers share the tracker store (TRACKER_STORE_URL, PostgreSQL), the lock store (LOCK_STORE_URL, Redis,
required: without it two servers would run turns of one conversation at once), the event broker
(EVENT_BROKER_URL, RabbitMQ) and, for the chat widget, the socket.io manager (SOCKETIO_MANAGER_URL).
"""
from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.benchmark import wait_until_up
from bot.scaling.haproxy import haproxy_command, write_haproxy_config
from bot.settings import Settings, connectable_host

LOAD_BALANCER = "load balancer"
STARTUP_TIMEOUT_S = 300
SHARED_SERVICES = ("web app", "e-mail delivery", "data retention", "analytics consumer")


class ClusterConfigurationError(ValueError):
    """The settings cannot run several Rasa servers (e.g. no shared lock store)."""


@dataclass(frozen=True)
class ClusterLayout:
    balancer_port: int
    rasa_ports: tuple[int, ...]
    action_ports: tuple[int, ...]
    host: str = "127.0.0.1"

    @classmethod
    def consecutive(cls, *, servers: int, balancer_port: int, first_action_port: int,
                    host: str = "127.0.0.1") -> ClusterLayout:
        return cls(balancer_port, tuple(balancer_port + i for i in range(1, servers + 1)),
                   tuple(first_action_port + i for i in range(servers)), host)

    @property
    def balancer_url(self) -> str:
        return f"http://{self.host}:{self.balancer_port}"

    def rasa_url(self, index: int) -> str:
        """Rasa server `index` (1-based)."""
        return f"http://{self.host}:{self.rasa_ports[index - 1]}"


def rasa_label(index: int) -> str:
    return f"rasa server {index}"


def action_label(index: int) -> str:
    return f"action server {index}"


def check_shared_services(settings: Settings) -> None:
    """Several servers need shared conversations and a shared lock; refuse what would silently break."""
    from sqlalchemy.engine import make_url

    if not settings.lock_store_url:
        raise ClusterConfigurationError(
            "LOCK_STORE_URL is required for several Rasa servers (e.g. redis://127.0.0.1:6379/1): without a shared "
            "lock two servers would answer the same conversation at once")
    if make_url(settings.tracker_store_url).get_backend_name() == "sqlite":
        raise ClusterConfigurationError(
            "TRACKER_STORE_URL must be a database server (e.g. postgresql://postgres@127.0.0.1:5432/conversations) "
            "for several Rasa servers, not SQLite")


def cluster_commands(settings: Settings, layout: ClusterLayout, workdir: Path, *,
                     shared_services: tuple[str, ...] = SHARED_SERVICES) -> dict[str, list[str]]:
    """label -> command line; writes the endpoints files and the haproxy configuration into `workdir`."""
    from bot.cli import service_commands
    from bot.rasa_endpoints import write_endpoints

    check_shared_services(settings)
    commands: dict[str, list[str]] = {}
    shared: dict[str, list[str]] = {}
    for index, (rasa_port, action_port) in enumerate(zip(layout.rasa_ports, layout.action_ports, strict=True), start=1):
        endpoints = write_endpoints(settings, workdir / f"endpoints-{index}.yml",
                                    action_server_url=f"http://{layout.host}:{action_port}/webhook")
        one = service_commands(settings, rasa_port=rasa_port, action_port=action_port, endpoints=endpoints)
        commands[action_label(index)] = one["action server"]
        commands[rasa_label(index)] = one["rasa server"]
        shared = one
    for label in shared_services:
        commands[label] = shared[label]
    config = write_haproxy_config(workdir / "haproxy.cfg", bind_host=settings.rasa_host,
                                  bind_port=layout.balancer_port,
                                  servers=[(layout.host, port) for port in layout.rasa_ports])
    commands[LOAD_BALANCER] = haproxy_command(settings.haproxy_binary, config)
    return commands


def health_url(label: str, layout: ClusterLayout, settings: Settings) -> str | None:
    """Where a process answers once it is ready (None: it serves nothing)."""
    if label == LOAD_BALANCER:
        return layout.balancer_url + "/"
    if label.startswith("rasa server "):
        return layout.rasa_url(int(label.rsplit(" ", 1)[1])) + "/"
    if label.startswith("action server "):
        return f"http://{layout.host}:{layout.action_ports[int(label.rsplit(' ', 1)[1]) - 1]}/health"
    if label == "web app":
        return f"http://{layout.host}:{settings.web_port}/healthz"
    return None


@dataclass
class RunningCluster:
    """The started processes (no restarts: a test or the load test decides what dies)."""

    layout: ClusterLayout
    workdir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def balancer_url(self) -> str:
        return self.layout.balancer_url

    def kill(self, label: str) -> None:
        """SIGKILL, as a crash or a lost machine: no clean shut-down, tickets held stay until they expire."""
        process = self.processes[label]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def log(self, label: str) -> Path:
        return self.workdir / f"{label.replace(' ', '-')}.log"


@contextmanager
def running_cluster(settings: Settings, layout: ClusterLayout, workdir: Path, env: Mapping[str, str], *,
                    shared_services: tuple[str, ...] = ("analytics consumer",),
                    startup_timeout_s: float = STARTUP_TIMEOUT_S) -> Iterator[RunningCluster]:
    """Start the cluster's processes with `env`, wait until each answers; stop them all afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    commands = cluster_commands(settings, layout, workdir, shared_services=shared_services)
    cluster = RunningCluster(layout, workdir)
    from bot.settings import PROJECT_ROOT

    try:
        for label, command in commands.items():
            log = cluster.log(label)
            cluster.processes[label] = subprocess.Popen(command, cwd=PROJECT_ROOT, env=dict(env),
                                                        stdout=log.open("w"), stderr=subprocess.STDOUT)
        for label, process in cluster.processes.items():
            url = health_url(label, layout, settings)
            if url is not None:
                wait_until_up(url, process, cluster.log(label), startup_timeout_s)
        yield cluster
    finally:
        for process in cluster.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in cluster.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def run_cluster(settings: Settings, *, balancer_port: int, first_action_port: int, servers: int) -> int:
    """`python -m bot.cli run-cluster`: every process supervised (restarted when it exits) until Ctrl-C."""
    from bot.cli import service_environment
    from bot.settings import PROJECT_ROOT
    from bot.shared_secrets import ensure_secrets_file
    from bot.supervisor import supervise_until_signalled

    ensure_secrets_file(settings.secrets_file)
    env = service_environment(os.environ, settings, rasa_port=balancer_port)
    # The Rasa servers see every request coming from haproxy; it names the client in X-Forwarded-For (the
    # verification limits per client need the real address, bot/channels/client_address.py).
    env.setdefault("TRUSTED_PROXIES", connectable_host(settings.rasa_host))
    settings = Settings.from_env(env)
    layout = ClusterLayout.consecutive(servers=servers, balancer_port=balancer_port,
                                       first_action_port=first_action_port, host=connectable_host(settings.rasa_host))
    try:
        commands = cluster_commands(settings, layout, PROJECT_ROOT / "var" / "cluster")
    except ClusterConfigurationError as error:
        print(f"Not starting: {error}", flush=True)
        return 2
    if not settings.action_server_token:
        print("Not starting: ACTION_SERVER_TOKEN is missing (python -m bot.cli secrets)", flush=True)
        return 2

    servers_text = ", ".join(layout.rasa_url(i) for i in range(1, servers + 1))
    supervise_until_signalled(
        commands, cwd=PROJECT_ROOT, env=env,
        announce=f"\n{servers} Rasa servers ({servers_text}) behind haproxy on {layout.balancer_url} "
                 f"(REST: {layout.balancer_url}/webhooks/rest/webhook). Press Ctrl-C to stop.\n")
    return 0

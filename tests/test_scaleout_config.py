"""The cluster's process commands and the haproxy configuration they start (checked by haproxy itself)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.rasa_endpoints import LOCK_STORE_CLASS
from bot.scaling.cluster import (
    LOAD_BALANCER,
    ClusterConfigurationError,
    ClusterLayout,
    action_label,
    cluster_commands,
    rasa_label,
)
from bot.scaling.haproxy import haproxy_config
from bot.settings import Settings

SHARED = {"TRACKER_STORE_URL": "postgresql://postgres@127.0.0.1:5432/conversations",
          "LOCK_STORE_URL": "redis://127.0.0.1:6379/1", "EVENT_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/"}


def test_each_rasa_server_calls_its_own_action_server_and_shares_the_lock_store(tmp_path: Path) -> None:
    layout = ClusterLayout.consecutive(servers=2, balancer_port=5005, first_action_port=5055)
    commands = cluster_commands(Settings.from_env(SHARED), layout, tmp_path)
    assert set(commands) >= {rasa_label(1), rasa_label(2), action_label(1), action_label(2), LOAD_BALANCER,
                             "web app", "analytics consumer"}
    for index, (rasa_port, action_port) in enumerate(((5006, 5055), (5007, 5056)), start=1):
        command = commands[rasa_label(index)]
        assert command[command.index("--port") + 1] == str(rasa_port)
        assert commands[action_label(index)][-1] == str(action_port)
        endpoints = yaml.safe_load(Path(command[command.index("--endpoints") + 1]).read_text())
        assert endpoints["action_endpoint"]["url"] == f"http://127.0.0.1:{action_port}/webhook"
        assert endpoints["lock_store"]["type"] == LOCK_STORE_CLASS
    assert commands[LOAD_BALANCER][:1] == ["haproxy"]


@pytest.mark.parametrize(("missing", "hint"), [("LOCK_STORE_URL", "LOCK_STORE_URL is required"),
                                                ("TRACKER_STORE_URL", "not SQLite")])
def test_several_servers_refuse_to_start_without_shared_conversations_and_locks(tmp_path: Path, missing: str,
                                                                                 hint: str) -> None:
    env = {name: value for name, value in SHARED.items() if name != missing}
    with pytest.raises(ClusterConfigurationError, match=hint):
        cluster_commands(Settings.from_env(env), ClusterLayout.consecutive(
            servers=2, balancer_port=5005, first_action_port=5055), tmp_path)


def test_the_balancer_is_sticky_for_socketio_only_and_haproxy_accepts_the_configuration(tmp_path: Path) -> None:
    text = haproxy_config(bind_host="127.0.0.1", bind_port=5005, servers=[("127.0.0.1", 5006), ("127.0.0.1", 5007)])
    round_robin = text.split("\nbackend rasa_round_robin")[1].split("\nbackend rasa_sticky")[0]
    sticky = text.split("\nbackend rasa_sticky")[1]
    assert "balance roundrobin" in round_robin and "cookie" not in round_robin
    assert "balance source" in sticky and "cookie rasa_server insert" in sticky
    assert "use_backend rasa_sticky if is_socketio" in text
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (scripts/setup.sh installs it)")
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    result = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

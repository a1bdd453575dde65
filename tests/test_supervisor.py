"""bot.supervisor: a crashed child is restarted after 1, 2, 4 ... up to 30 s, the pause resets after a healthy
run, every exit and restart is logged, and only stop() ends the children (issue 7, finding 4)."""
from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from bot.supervisor import Backoff, Supervisor


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeProcess:
    next_pid = 100

    def __init__(self, label: str, *, ignores_terminate: bool = False) -> None:
        FakeProcess.next_pid += 1
        self.pid, self.label, self.code = FakeProcess.next_pid, label, None
        self.ignores_terminate, self.terminated, self.killed = ignores_terminate, False, False

    def poll(self) -> int | None:
        return self.code

    def terminate(self) -> None:
        self.terminated = True
        if not self.ignores_terminate:
            self.code = -15

    def kill(self) -> None:
        self.killed, self.code = True, -9

    def wait(self, timeout: float | None = None) -> int:
        if self.code is None:
            raise subprocess.TimeoutExpired("fake", timeout or 0)
        return self.code


class Harness:
    def __init__(self, commands: dict[str, list[str]] | None = None, **kwargs: object) -> None:
        self.clock, self.started, self.logs = FakeClock(), [], []
        self.options: dict[str, bool] = {}
        self.supervisor = Supervisor(commands or {"action server": ["actions"], "rasa server": ["rasa"],
                                                  "web app": ["web"]},
                                     start=self.start, clock=self.clock, log=self.logs.append, **kwargs)

    def start(self, label: str, command: Sequence[str]) -> FakeProcess:
        process = FakeProcess(label, ignores_terminate=self.options.get(label, False))
        self.started.append(process)
        return process

    def current(self, label: str) -> FakeProcess:
        return [p for p in self.started if p.label == label][-1]

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.supervisor.poll()

    def crash(self, label: str, code: int = 1) -> None:
        self.current(label).code = code
        self.supervisor.poll()

    def starts_of(self, label: str) -> int:
        return sum(1 for p in self.started if p.label == label)


def test_the_backoff_doubles_from_one_second_up_to_thirty() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    with pytest.raises(ValueError):
        backoff.delay(0)


def test_a_crashed_child_is_restarted_after_the_pause_and_the_others_keep_running() -> None:
    h = Harness()
    h.supervisor.start_all()
    rasa, web = h.current("rasa server"), h.current("web app")
    h.advance(120)
    h.crash("action server", code=-9)
    assert h.logs == ["The action server stopped (exit code -9) after 120 s; restarting it in 1 s."]
    h.advance(0.5)
    assert h.starts_of("action server") == 1, "not before the pause is over"
    h.advance(0.5)
    assert h.starts_of("action server") == 2
    assert h.logs[-1] == f"Restarted the action server (restart 1, pid {h.current('action server').pid})."
    assert h.current("rasa server") is rasa and h.current("web app") is web
    assert not rasa.terminated and not web.terminated


def test_a_child_that_keeps_crashing_waits_longer_each_time_until_it_stays_up() -> None:
    h = Harness()
    h.supervisor.start_all()
    h.advance(90)
    pauses = []
    for _ in range(7):
        h.crash("rasa server")
        pauses.append(h.supervisor.children["rasa server"].restart_at - h.clock.now)
        h.advance(pauses[-1])  # restarted, and crashes again at once
    assert pauses == [1, 2, 4, 8, 16, 30, 30]
    # Once a run lasts a minute, the next crash is restarted after 1 s again.
    h.advance(60)
    h.crash("rasa server")
    assert h.supervisor.children["rasa server"].restart_at - h.clock.now == 1
    assert sum("restarting it in" in line for line in h.logs) == 8
    assert h.supervisor.children["rasa server"].restarts == 7


def test_a_clean_exit_is_restarted_too_only_stop_ends_the_children() -> None:
    h = Harness()
    h.supervisor.start_all()
    h.advance(100)
    h.crash("web app", code=0)
    h.advance(1)
    assert h.starts_of("web app") == 2
    h.supervisor.stop(timeout_s=1)
    assert all(p.terminated for p in h.started if p.code != 0)
    h.crash("action server")
    h.advance(100)
    assert h.starts_of("action server") == 1, "nothing is restarted after stop()"


def test_stop_kills_a_child_that_ignores_terminate_and_skips_one_waiting_for_its_restart() -> None:
    h = Harness()
    h.options["rasa server"] = True
    h.supervisor.start_all()
    h.advance(5)
    h.crash("action server")
    crashed = h.current("action server")
    h.supervisor.stop(timeout_s=0.01)
    assert h.current("rasa server").killed
    assert not crashed.terminated, "already gone"
    assert h.current("web app").terminated and not h.current("web app").killed


def test_next_wakeup_is_the_pending_restart_or_the_idle_interval() -> None:
    h = Harness(backoff=Backoff(initial_s=0.2))
    h.supervisor.start_all()
    assert h.supervisor.next_wakeup(idle_s=0.5) == 0.5
    h.crash("web app")
    assert h.supervisor.next_wakeup(idle_s=0.5) == pytest.approx(0.2)


def test_the_supervised_processes_are_a_plain_mapping() -> None:
    h = Harness({"action server": ["a"], "rasa server": ["r"], "web app": ["w"], "mail worker": ["m"]})
    h.supervisor.start_all()
    assert [p.label for p in h.started] == ["action server", "rasa server", "web app", "mail worker"]

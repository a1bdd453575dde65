"""Keep a set of child processes running: a child that exits is started again, after a growing pause.

`python -m bot.cli run` supervises the action server, the Rasa server and the web app with this. One
crashed process no longer stops the others; it is restarted after 1 s, then 2, 4, ... up to 30 s while
it keeps crashing, and the pause starts again at 1 s once a run lasted `reset_after` seconds. Every exit
and restart is logged. Only `stop()` (Ctrl-C / SIGTERM in the run command) ends the children.

Plain logic: processes are started through `start` and time comes from `clock`, so tests can drive it.
"""
from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)


class Process(Protocol):
    pid: int

    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@dataclass(frozen=True)
class Backoff:
    """The pause before restart number `failures` (1 = first restart after a run that lasted long enough)."""

    initial_s: float = 1.0
    factor: float = 2.0
    maximum_s: float = 30.0
    reset_after_s: float = 60.0  # a run at least this long counts as healthy: the pause starts again at initial_s

    def delay(self, failures: int) -> float:
        if failures < 1:
            raise ValueError("failures counts from 1")
        return min(self.maximum_s, self.initial_s * self.factor ** (failures - 1))


@dataclass
class Child:
    label: str
    command: Sequence[str]
    process: Process | None = None
    started_at: float = 0.0
    failures: int = 0  # exits in a row, each after a run shorter than reset_after_s
    restart_at: float | None = None  # when the child is down: when it is started again
    restarts: int = 0


@dataclass
class Supervisor:
    """Starts `commands` (label -> command line) and restarts any that exits, until `stop()`."""

    commands: Mapping[str, Sequence[str]]
    start: Callable[[str, Sequence[str]], Process]
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    log: Callable[[str], None] = logger.warning
    children: dict[str, Child] = field(init=False, default_factory=dict)
    stopped: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.children = {label: Child(label, command) for label, command in self.commands.items()}

    def _launch(self, child: Child) -> None:
        child.process = self.start(child.label, child.command)
        child.started_at = self.clock()
        child.restart_at = None

    def start_all(self) -> None:
        for child in self.children.values():
            self._launch(child)

    def poll(self) -> None:
        """Notice children that exited (schedule their restart) and restart those whose pause is over."""
        if self.stopped:
            return
        now = self.clock()
        for child in self.children.values():
            if child.restart_at is None:
                assert child.process is not None
                code = child.process.poll()
                if code is None:
                    continue
                ran_for = now - child.started_at
                child.failures = 1 if ran_for >= self.backoff.reset_after_s else child.failures + 1
                pause = self.backoff.delay(child.failures)
                child.restart_at = now + pause
                self.log(f"The {child.label} stopped (exit code {code}) after {ran_for:.0f} s; "
                         f"restarting it in {pause:g} s.")
            elif now >= child.restart_at:
                self._launch(child)
                child.restarts += 1
                self.log(f"Restarted the {child.label} (restart {child.restarts}, pid {child.process.pid}).")

    def next_wakeup(self, *, idle_s: float = 0.5) -> float:
        """Seconds until `poll` has something to do at the latest (at most idle_s)."""
        pending = [c.restart_at for c in self.children.values() if c.restart_at is not None]
        if not pending:
            return idle_s
        return max(0.0, min(idle_s, min(pending) - self.clock()))

    def stop(self, *, timeout_s: float = 15.0) -> None:
        """Terminate every running child (kill those still running after timeout_s); no more restarts."""
        self.stopped = True
        running = [c.process for c in self.children.values()
                   if c.process is not None and c.restart_at is None and c.process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def supervise_until_signalled(commands: Mapping[str, Sequence[str]], *, cwd: Path, env: Mapping[str, str],
                              announce: str, tick: Callable[[], None] | None = None) -> None:
    """Start `commands` as children of this process (in `cwd`, with `env`), print `announce`, restart any child
    that exits, and stop them all on SIGINT or SIGTERM. `tick` runs on every round (e.g. a readiness check)."""
    def start(_label: str, command: Sequence[str]) -> subprocess.Popen:
        return subprocess.Popen(list(command), cwd=cwd, env=dict(env))

    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    supervisor = Supervisor(commands, start=start, log=log)
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    supervisor.start_all()
    print(announce, flush=True)
    try:
        while not stopping:
            supervisor.poll()
            if tick is not None:
                tick()
            time.sleep(supervisor.next_wakeup(idle_s=0.5))
    finally:
        supervisor.stop(timeout_s=15)
    print("Stopped.")

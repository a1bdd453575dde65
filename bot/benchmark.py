"""Benchmark the running assistant over the REST channel: whole conversations with verification and lookups.

Each simulated customer greets, asks when the contract ends, identifies with customer number and
postcode, asks about the bill, thanks and says goodbye: 7 messages, each answered with database
work behind it. Conversations change nothing in the records, so the benchmark can be repeated.
"""
from __future__ import annotations

import asyncio
import platform
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from bot.settings import Settings, get_settings

# Demo personas (see bot/records/demo_data.py): customer number and postcode.
PERSONAS = (("K100001", "10115"), ("K100002", "80331"), ("K100003", "50667"), ("K100004", "20095"),
            ("K100005", "01067"))


def conversation(customer_number: str, postcode: str) -> list[str]:
    return ["Hallo", "Wann endet mein Vertrag?", customer_number, postcode, "Wie hoch ist meine letzte Rechnung?",
            "Danke", "Tschüss"]


@dataclass(frozen=True)
class RunResult:
    users: int
    conversations: int
    messages: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    rasa_rss_mb: float | None

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=20)[-1] if len(self.latencies_ms) >= 20 else max(
            self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.messages / self.seconds


def rasa_server_rss_mb(port: int) -> float | None:
    """Resident memory of the Rasa server listening on `port` (matched by its command line), from /proc."""
    total_kb = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if ("bot.rasa_server" not in cmdline and "rasa run" not in cmdline) or f"--port {port}" not in cmdline:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024 if total_kb else None


async def _customer(client: httpx.AsyncClient, url: str, queue: asyncio.Queue, latencies: list[float],
                    errors: list[str]) -> None:
    while True:
        try:
            index = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        number, postcode = PERSONAS[index % len(PERSONAS)]
        sender = f"bench-{uuid.uuid4().hex[:12]}"
        for text in conversation(number, postcode):
            started = time.perf_counter()
            try:
                response = await client.post(url, json={"sender": sender, "message": text})
                response.raise_for_status()
                if not response.json():
                    errors.append(f"no answer to {text!r}")
            except httpx.HTTPError as error:
                errors.append(f"{text!r}: {error}")
            latencies.append((time.perf_counter() - started) * 1000)


async def _run(url: str, users: int, conversations: int, port: int) -> RunResult:
    queue: asyncio.Queue = asyncio.Queue()
    for index in range(conversations):
        queue.put_nowait(index)
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(_customer(client, url, queue, latencies, errors) for _ in range(users)))
        seconds = time.perf_counter() - started
    return RunResult(users, conversations, len(latencies), seconds, latencies, len(errors), rasa_server_rss_mb(port))


def _backend(database_url: str) -> str:
    return "PostgreSQL" if database_url.startswith("postgresql") else "SQLite" if database_url.startswith(
        "sqlite") else database_url.split(":", 1)[0]


def _report(results: list[RunResult], url: str, settings: Settings) -> str:
    lines = [
        "# Benchmark: whole conversations over the REST channel",
        "",
        f"Measured {datetime.now():%Y-%m-%d %H:%M} on {platform.node()} ({platform.machine()}, "
        f"{__import__('os').cpu_count()} cores) against {url} with `python -m bot.cli benchmark`.",
        "Each conversation: greeting, contract question, customer number, postcode (verification against the "
        "database), billing question, thanks, goodbye (7 messages; every message also runs the dissatisfaction "
        "update on the action server, and all but the greeting and thanks read the records).",
        f"Storage as configured in this environment: records on {_backend(settings.database_url)}, conversations "
        f"(Rasa tracker store) on {_backend(settings.tracker_store_url)}.",
        "",
        "| concurrent conversations | conversations | messages | turn latency p50 | p95 | throughput | errors | "
        "Rasa server memory (RSS) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        memory = f"{r.rasa_rss_mb:.0f} MB" if r.rasa_rss_mb else "n/a"
        lines.append(f"| {r.users} | {r.conversations} | {r.messages} | {r.p50:.1f} ms | {r.p95:.1f} ms | "
                     f"{r.throughput:.1f} msg/s | {r.errors} | {memory} |")
    return "\n".join(lines) + "\n"


def run_benchmark(*, url: str, users: list[int], conversations: int, output: Path | None) -> int:
    rest_url = url.rstrip("/") + "/webhooks/rest/webhook"
    try:
        # "/" answers once the model is loaded, with or without Rasa's HTTP API (which stays off by default).
        httpx.get(url.rstrip("/") + "/", timeout=5).raise_for_status()
    except httpx.HTTPError as error:
        print(f"The assistant is not reachable at {url} ({error}). Start it with scripts/run.sh first.")
        return 2
    port = httpx.URL(url).port or 80
    asyncio.run(_run(rest_url, 2, 4, port))  # warm-up: first calls load caches and connections
    results = []
    for count in users:
        result = asyncio.run(_run(rest_url, count, max(conversations, count), port))
        results.append(result)
        print(f"{count:>3} users: p50 {result.p50:.1f} ms, p95 {result.p95:.1f} ms, "
              f"{result.throughput:.1f} msg/s, {result.errors} errors")
    report = _report(results, url, get_settings())
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report)
        print(f"Written to {output}")
    return 1 if any(r.errors for r in results) else 0

"""Delivery statuses of outgoing messages. Meta's status callbacks may arrive out of order (a "delivered"
after the "read"): a status only moves forward, sent < delivered < read; failed is final."""
from __future__ import annotations

RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}
FINAL = "failed"
KNOWN = frozenset(RANK) | {FINAL}


def next_status(current: str, reported: str) -> str:
    """The status after a callback reports `reported` for a message now at `current`."""
    if reported not in KNOWN or current == FINAL:
        return current
    if reported == FINAL:
        return FINAL
    return reported if RANK[reported] > RANK.get(current, 0) else current

"""The queue of customers waiting for a person, and who owns which conversation.

Every change of ownership is one conditional UPDATE (`... WHERE status = 'open'` and the like), so two
agents acting at once cannot both win: the database decides, on SQLite and on PostgreSQL alike. The
caller owns the transaction (`bot.records.database.transaction`). Error messages are shown to agents.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session, aliased

from bot.records.models import Customer, HandoffRequest, StaffUser

PRIORITIES = ("urgent", "high", "normal")  # first served first
# How an agent can close a handoff; "handed_back" is what hand_back() records.
RESOLUTIONS = ("solved", "offer_accepted", "cancellation_processed", "callback_arranged", "other")
HANDED_BACK = "handed_back"
WORKING_ROLES = ("agent", "supervisor")  # who can take conversations (marketers cannot)
MAX_NOTE_LENGTH = 4000


class HandoffError(Exception):
    """An action on a handoff that cannot be done; the message tells the agent what to do instead."""


class AlreadyTaken(HandoffError):
    """Another agent took the conversation first."""


class NotYourConversation(HandoffError):
    """The conversation is not (or no longer) owned by this agent."""


class NotAllowed(HandoffError):
    """The person's role or account does not allow this (e.g. reassigning without being a supervisor)."""


@dataclass(frozen=True)
class QueueEntry:
    """One handoff as the console lists it."""

    handoff_id: int
    conversation_id: str
    channel: str
    reason: str
    priority: str
    created_at: datetime
    waiting_seconds: int  # open: until now; taken or closed: until it was taken
    customer_name: str | None  # only when the customer was verified
    segment: str | None
    dissatisfaction: float | None
    status: str
    agent_id: int | None
    agent_first_name: str | None


def waiting_seconds(handoff: HandoffRequest, *, now: datetime) -> int:
    """How long the customer waited for a person: until taken, or until now while nobody has taken it."""
    end = handoff.taken_at or (handoff.closed_at if handoff.status == "closed" else None) or now
    return max(0, int((end - handoff.created_at).total_seconds()))


def handling_seconds(handoff: HandoffRequest) -> int | None:
    """How long an agent worked on it (taken until closed); None while not both happened."""
    if handoff.taken_at is None or handoff.closed_at is None:
        return None
    return max(0, int((handoff.closed_at - handoff.taken_at).total_seconds()))


def _priority_rank():  # type: ignore[no-untyped-def]
    return case({name: rank for rank, name in enumerate(PRIORITIES)}, value=HandoffRequest.priority, else_=len(PRIORITIES))


def _entries(session: Session, *, now: datetime, where: tuple) -> list[QueueEntry]:  # type: ignore[type-arg]
    agent = aliased(StaffUser)
    rows = session.execute(
        select(HandoffRequest, Customer, agent.first_name)
        .outerjoin(Customer, Customer.id == HandoffRequest.customer_id)
        .outerjoin(agent, agent.id == HandoffRequest.assigned_agent_id)
        .where(*where)
        .order_by(_priority_rank(), HandoffRequest.created_at, HandoffRequest.id)
    ).all()
    return [
        QueueEntry(
            handoff_id=handoff.id, conversation_id=handoff.conversation_id, channel=handoff.channel,
            reason=handoff.reason, priority=handoff.priority, created_at=handoff.created_at,
            waiting_seconds=waiting_seconds(handoff, now=now),
            customer_name=customer.full_name if customer is not None else None,
            segment=customer.segment if customer is not None else None,
            dissatisfaction=handoff.dissatisfaction, status=handoff.status,
            agent_id=handoff.assigned_agent_id, agent_first_name=agent_first_name,
        )
        for handoff, customer, agent_first_name in rows
    ]


def waiting_queue(session: Session, *, now: datetime) -> list[QueueEntry]:
    """Handoffs nobody has taken yet: urgent before high before normal, then the longest waiting first."""
    return _entries(session, now=now, where=(HandoffRequest.status == "open",))


def conversations_of(session: Session, *, agent_id: int, now: datetime) -> list[QueueEntry]:
    """The conversations this agent owns now."""
    return _entries(session, now=now, where=(HandoffRequest.status == "taken",
                                             HandoffRequest.assigned_agent_id == agent_id))


def all_active(session: Session, *, now: datetime) -> list[QueueEntry]:
    """Waiting and taken handoffs of all agents (the supervisor's view)."""
    return _entries(session, now=now, where=(HandoffRequest.status.in_(("open", "taken")),))


def _working_user(session: Session, user_id: int, *, roles: tuple[str, ...] = WORKING_ROLES) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        raise NotAllowed("Dieses Konto ist nicht (mehr) aktiv. Bitte melden Sie sich erneut an.")
    if user.role not in roles:
        raise NotAllowed(f"Mit der Rolle „{user.role}“ ist das nicht möglich.")
    return user


def _handoff(session: Session, handoff_id: int) -> HandoffRequest:
    handoff = session.get(HandoffRequest, handoff_id, populate_existing=True)
    if handoff is None:
        raise HandoffError(f"Vorgang H-{handoff_id} gibt es nicht. Bitte laden Sie die Warteschlange neu.")
    return handoff


def _changed(session: Session, handoff_id: int, *conditions, **values) -> bool:  # type: ignore[no-untyped-def]
    result = session.execute(
        update(HandoffRequest).where(HandoffRequest.id == handoff_id, *conditions).values(**values)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _owner_name(session: Session, handoff: HandoffRequest) -> str:
    owner = session.get(StaffUser, handoff.assigned_agent_id) if handoff.assigned_agent_id else None
    return owner.first_name if owner is not None else "eine Kollegin oder ein Kollege"


def take(session: Session, *, handoff_id: int, agent_id: int, now: datetime) -> HandoffRequest:
    """Assign a waiting conversation to the agent; exactly one of several agents taking it at once wins.

    Raises AlreadyTaken when another agent was first, HandoffError when it is closed or unknown. Taking a
    conversation one already owns is not an error.
    """
    _working_user(session, agent_id)
    if _changed(session, handoff_id, HandoffRequest.status == "open",
                status="taken", assigned_agent_id=agent_id, taken_at=now):
        return _handoff(session, handoff_id)
    handoff = _handoff(session, handoff_id)
    if handoff.status == "taken":
        if handoff.assigned_agent_id == agent_id:
            return handoff
        raise AlreadyTaken(f"{_owner_name(session, handoff)} hat Vorgang H-{handoff_id} schon übernommen. "
                           "Bitte nehmen Sie das nächste Gespräch aus der Warteschlange.")
    raise HandoffError(f"Vorgang H-{handoff_id} ist bereits abgeschlossen. Bitte nehmen Sie das nächste Gespräch "
                       "aus der Warteschlange.")


def _not_yours(session: Session, handoff: HandoffRequest) -> NotYourConversation:
    if handoff.status == "taken":
        return NotYourConversation(f"Vorgang H-{handoff.id} betreut jetzt {_owner_name(session, handoff)}; "
                                   "Sie können dort nichts mehr ändern.")
    if handoff.status == "open":
        return NotYourConversation(f"Bitte übernehmen Sie Vorgang H-{handoff.id} zuerst.")
    return NotYourConversation(f"Vorgang H-{handoff.id} ist bereits abgeschlossen.")


def close(session: Session, *, handoff_id: int, agent_id: int, resolution: str, note: str | None,
          now: datetime) -> HandoffRequest:
    """Close a conversation the agent owns, with how it ended (one of RESOLUTIONS) and a note."""
    if resolution not in RESOLUTIONS:
        raise HandoffError(f"Unbekanntes Ergebnis „{resolution}“. Bitte wählen Sie eines von: "
                           f"{', '.join(RESOLUTIONS)}.")
    cleaned = (note or "").strip() or None
    if cleaned is not None and len(cleaned) > MAX_NOTE_LENGTH:
        raise HandoffError(f"Die Notiz ist zu lang ({len(cleaned)} Zeichen); bitte kürzen Sie sie auf höchstens "
                           f"{MAX_NOTE_LENGTH} Zeichen.")
    return _finish(session, handoff_id=handoff_id, agent_id=agent_id, resolution=resolution, note=cleaned, now=now)


def hand_back(session: Session, *, handoff_id: int, agent_id: int, now: datetime) -> HandoffRequest:
    """Give the conversation back to the assistant: the handoff is closed as "handed_back"."""
    return _finish(session, handoff_id=handoff_id, agent_id=agent_id, resolution=HANDED_BACK, note=None, now=now)


def _finish(session: Session, *, handoff_id: int, agent_id: int, resolution: str, note: str | None,
            now: datetime) -> HandoffRequest:
    _working_user(session, agent_id)
    if _changed(session, handoff_id, HandoffRequest.status == "taken", HandoffRequest.assigned_agent_id == agent_id,
                status="closed", closed_at=now, resolution=resolution, note=note):
        return _handoff(session, handoff_id)
    raise _not_yours(session, _handoff(session, handoff_id))


CANCELLED_BY_CUSTOMER_NOTE = ("Der Kunde hat während der Übernahme „Jetzt kündigen“ gewählt; der Assistent hat "
                              "die Kündigung übernommen (§ 312k BGB).")


def release_for_cancellation(session: Session, *, conversation_id: str, now: datetime) -> HandoffRequest | None:
    """The customer pressed "Jetzt kündigen" while an agent owned the conversation: the assistant takes the
    cancellation at once, so the handoff ends here (handed back, with a note that says why), and the agent's
    console shows it as closed. None when no agent owned the conversation."""
    handoff = owned_handoff(session, conversation_id=conversation_id)
    if handoff is None:
        return None
    if _changed(session, handoff.id, HandoffRequest.status == "taken", status="closed", closed_at=now,
                resolution=HANDED_BACK, note=CANCELLED_BY_CUSTOMER_NOTE):
        return _handoff(session, handoff.id)
    return None


def reassign(session: Session, *, handoff_id: int, supervisor_id: int, to_agent_id: int,
             now: datetime) -> HandoffRequest:
    """A supervisor gives a waiting or taken conversation to another agent (the waiting time stays as it was)."""
    _working_user(session, supervisor_id, roles=("supervisor",))
    target = session.get(StaffUser, to_agent_id)
    if target is None or not target.active or target.role not in WORKING_ROLES:
        raise NotAllowed("An dieses Konto kann kein Gespräch übergeben werden (inaktiv oder keine Agentenrolle).")
    handoff = _handoff(session, handoff_id)
    if handoff.status == "closed":
        raise HandoffError(f"Vorgang H-{handoff_id} ist bereits abgeschlossen.")
    # Conditional on what was read, so a concurrent take/close/reassign is not overwritten unnoticed.
    if _changed(session, handoff_id, HandoffRequest.status == handoff.status,
                HandoffRequest.assigned_agent_id.is_(None) if handoff.assigned_agent_id is None
                else HandoffRequest.assigned_agent_id == handoff.assigned_agent_id,
                status="taken", assigned_agent_id=to_agent_id, taken_at=handoff.taken_at or now):
        return _handoff(session, handoff_id)
    raise HandoffError(f"Vorgang H-{handoff_id} wurde gerade geändert. Bitte laden Sie die Ansicht neu und "
                       "versuchen Sie es noch einmal.")


def active_handoff(session: Session, *, conversation_id: str) -> HandoffRequest | None:
    """The conversation's handoff that is waiting or taken, if any."""
    return session.scalars(select(HandoffRequest).where(
        HandoffRequest.conversation_id == conversation_id, HandoffRequest.status.in_(("open", "taken")))
        .order_by(HandoffRequest.id.desc())).first()


def owned_handoff(session: Session, *, conversation_id: str) -> HandoffRequest | None:
    """The conversation's handoff an agent owns now (the assistant must stay silent), if any."""
    return session.scalars(select(HandoffRequest).where(
        HandoffRequest.conversation_id == conversation_id, HandoffRequest.status == "taken")
        .order_by(HandoffRequest.id.desc())).first()

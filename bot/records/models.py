"""Tables of the customer records, named as things in the customer's world.

Money is stored in euro cents (integers) so that prices never suffer float rounding. Points in time are
timezone-aware UTC (`UtcDateTime`); show them in Europe/Berlin with `bot.retention.formatting`.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

from bot.records.types import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

# Contract states.
ACTIVE = "active"
PAUSED = "paused"
CANCELLED = "cancelled"  # cancellation received, contract runs until the effective date
ENDED = "ended"


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    customer_number = Column(String(7), nullable=False, unique=True)
    first_name = Column(String(80), nullable=False)
    last_name = Column(String(80), nullable=False)
    email = Column(String(200), nullable=False)
    postcode = Column(String(5), nullable=False)
    birth_date = Column(Date, nullable=False)
    language = Column(String(2), nullable=False, default="de")
    segment = Column(String(20), nullable=False, default="standard")  # standard | premium | business
    customer_since = Column(Date, nullable=False)

    contracts = relationship("Contract", back_populates="customer", order_by="Contract.id")
    complaints = relationship("Complaint", back_populates="customer", order_by="Complaint.id")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Plan(Base):
    """A tariff in the catalog."""

    __tablename__ = "plans"

    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)
    name = Column(String(80), nullable=False)
    category = Column(String(20), nullable=False)  # mobile | internet
    tier = Column(Integer, nullable=False)  # higher is bigger, within a category
    monthly_price_cents = Column(Integer, nullable=False)
    description = Column(String(200), nullable=False, default="")
    active = Column(Boolean, nullable=False, default=True)


class Contract(Base):
    __tablename__ = "contracts"

    id = Column(Integer, primary_key=True)
    contract_number = Column(String(12), nullable=False, unique=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    plan_id = Column(ForeignKey("plans.id"), nullable=False)
    monthly_price_cents = Column(Integer, nullable=False)
    start_date = Column(Date, nullable=False)
    minimum_term_end = Column(Date, nullable=False)
    notice_period_months = Column(Integer, nullable=False, default=1)
    status = Column(String(12), nullable=False, default=ACTIVE)
    paused_until = Column(Date, nullable=True)
    last_pause_end = Column(Date, nullable=True)
    discount_percent = Column(Integer, nullable=False, default=0)
    discount_until = Column(Date, nullable=True)
    cancellation_effective_date = Column(Date, nullable=True)

    customer = relationship("Customer", back_populates="contracts")
    plan = relationship("Plan")


class Invoice(Base):
    __tablename__ = "invoices"

    id = Column(Integer, primary_key=True)
    invoice_number = Column(String(16), nullable=False, unique=True)
    contract_id = Column(ForeignKey("contracts.id"), nullable=False, index=True)
    period_start = Column(Date, nullable=False)
    amount_cents = Column(Integer, nullable=False)
    due_date = Column(Date, nullable=False)
    status = Column(String(10), nullable=False, default="open")  # open | paid | overdue


class Complaint(Base):
    """A complaint or problem report in the customer's history."""

    __tablename__ = "complaints"

    id = Column(Integer, primary_key=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    created_at = Column(UtcDateTime, nullable=False)
    category = Column(String(20), nullable=False)  # technical | billing | service | price
    description = Column(Text, nullable=False, default="")
    resolved = Column(Boolean, nullable=False, default=False)
    conversation_id = Column(String(120), nullable=True)

    customer = relationship("Customer", back_populates="complaints")


class RetentionOffer(Base):
    """An offer in the retention catalog, with its eligibility rules and cost model."""

    __tablename__ = "retention_offers"

    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)
    kind = Column(String(20), nullable=False)  # discount | pause | downgrade | upgrade | loyalty_bonus | goodwill_credit | price_match | relocation
    title = Column(String(120), nullable=False)
    reasons = Column(String(200), nullable=False)  # comma-separated cancellation reasons it answers
    for_high_value = Column(Boolean, nullable=True)  # None: any customer; True/False: only that group
    discount_percent = Column(Integer, nullable=False, default=0)
    duration_months = Column(Integer, nullable=False, default=0)
    credit_cents = Column(Integer, nullable=False, default=0)
    min_tenure_months = Column(Integer, nullable=False, default=0)
    max_cost_cents = Column(Integer, nullable=False, default=0)  # 0: no limit
    priority = Column(Integer, nullable=False, default=100)  # lower is tried first
    active = Column(Boolean, nullable=False, default=True)


class OfferDecision(Base):
    __tablename__ = "offer_decisions"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(120), nullable=False, index=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    contract_id = Column(ForeignKey("contracts.id"), nullable=False)
    offer_id = Column(ForeignKey("retention_offers.id"), nullable=False)
    reason = Column(String(20), nullable=True)
    outcome = Column(String(10), nullable=False)  # accepted | declined
    cost_cents = Column(Integer, nullable=False, default=0)
    decided_at = Column(UtcDateTime, nullable=False)

    offer = relationship("RetentionOffer")


class Cancellation(Base):
    __tablename__ = "cancellations"
    __table_args__ = (UniqueConstraint("contract_id"),)

    id = Column(Integer, primary_key=True)
    contract_id = Column(ForeignKey("contracts.id"), nullable=False)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    conversation_id = Column(String(120), nullable=True)
    requested_at = Column(UtcDateTime, nullable=False)
    effective_date = Column(Date, nullable=False)
    reason = Column(String(20), nullable=True)
    confirmation_number = Column(String(20), nullable=False, unique=True)
    channel = Column(String(20), nullable=False, default="chat")
    # What the customer declared (§ 312k Abs. 2 Satz 3 BGB, see bot.retention.declaration): ordinary or
    # extraordinary, the reason of an extraordinary one (moving | fault), the date asked for (None: the
    # earliest possible) and a second address the confirmation also went to (verified customers only).
    kind = Column(String(16), nullable=False, default="ordinary", server_default="ordinary")
    extraordinary_reason = Column(String(20), nullable=True)
    requested_date = Column(Date, nullable=True)
    extra_recipient = Column(String(200), nullable=True)

    contract = relationship("Contract")
    customer = relationship("Customer")


class HandoffRequest(Base):
    __tablename__ = "handoff_requests"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(120), nullable=False, index=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=True)
    reason = Column(String(40), nullable=False)
    priority = Column(String(10), nullable=False, default="normal")  # normal | high | urgent
    status = Column(String(10), nullable=False, default="open")  # open | taken | closed
    created_at = Column(UtcDateTime, nullable=False)
    # The conversation's dissatisfaction score (0..1) when the customer asked for a human.
    dissatisfaction = Column(Float, nullable=True)
    # The channel the customer writes on (socketio, rest, whatsapp, telegram): replies go out there.
    channel = Column(String(20), nullable=False, default="socketio", server_default="socketio")
    # The agent who owns the conversation while status is "taken" (and who closed it afterwards).
    assigned_agent_id = Column(ForeignKey("staff_users.id"), nullable=True, index=True)
    taken_at = Column(UtcDateTime, nullable=True)
    closed_at = Column(UtcDateTime, nullable=True)
    # How it ended: solved | offer_accepted | cancellation_processed | callback_arranged | other | handed_back
    resolution = Column(String(24), nullable=True)
    note = Column(Text, nullable=True)
    # A callback the customer asked for outside service hours (personal data: shown to agents only).
    callback_phone = Column(String(40), nullable=True)
    callback_window = Column(String(60), nullable=True)

    assigned_agent = relationship("StaffUser")


class ConversationInsight(Base):
    """How dissatisfied the customer was in one conversation, for agents and marketers (one row each)."""

    __tablename__ = "conversation_insights"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(120), nullable=False, unique=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=True, index=True)
    dissatisfaction = Column(Float, nullable=False, default=0.0)  # latest score, 0..1
    peak_dissatisfaction = Column(Float, nullable=False, default=0.0)
    reasons = Column(String(200), nullable=False, default="")  # comma-separated, see bot.assistant.dissatisfaction
    acknowledged = Column(Boolean, nullable=False, default=False)  # the assistant addressed the frustration
    updated_at = Column(UtcDateTime, nullable=False)


class SatisfactionRating(Base):
    __tablename__ = "satisfaction_ratings"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(120), nullable=False, index=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=True)
    rating = Column(Integer, nullable=False)
    created_at = Column(UtcDateTime, nullable=False)


class OutboxEmail(Base):
    """Every e-mail the assistant sends; sent_at stays empty while no SMTP server is configured.

    A failed delivery is retried with backoff (bot.assistant.mail): `attempts` counts the tries,
    `next_attempt_at` is when the next may start (empty: now), `last_error` says why the last one failed.
    """

    __tablename__ = "outbox_emails"

    id = Column(Integer, primary_key=True)
    recipient = Column(String(200), nullable=False)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(UtcDateTime, nullable=False)
    sent_at = Column(UtcDateTime, nullable=True)
    attempts = Column(Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = Column(UtcDateTime, nullable=True, index=True)
    last_error = Column(String(300), nullable=True)


class VerificationAttempt(Base):
    """One check of a customer number plus postcode or birth date through the assistant.

    Counted across conversations and channels (bot/assistant/verification_limits.py). The number is
    stored as typed and normalised, whether or not a customer has it; the secret is never stored.
    """

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_attempts_customer_number_attempted_at", "customer_number", "attempted_at"),
        Index("ix_verification_attempts_client_key_attempted_at", "client_key", "attempted_at"),
    )

    id = Column(Integer, primary_key=True)
    customer_number = Column(String(7), nullable=False)
    client_key = Column(String(200), nullable=False)  # peer address from the channel, else "conversation:<id>"
    outcome = Column(String(10), nullable=False)  # verified | failed | refused (locked, not checked)
    attempted_at = Column(UtcDateTime, nullable=False)
    conversation_id = Column(String(120), nullable=False)


class VerificationLock(Base):
    """Verification through the assistant is locked for a customer number, or for a client, until locked_until.

    Agents see these rows; releasing one early sets released_at and released_by.
    """

    __tablename__ = "verification_locks"

    id = Column(Integer, primary_key=True)
    customer_number = Column(String(7), nullable=True, index=True)  # a number lock ...
    client_key = Column(String(200), nullable=True, index=True)  # ... or a client lock
    locked_at = Column(UtcDateTime, nullable=False)
    locked_until = Column(UtcDateTime, nullable=False)
    failures = Column(Integer, nullable=False)  # failed attempts in the window that led to the lock
    conversation_id = Column(String(120), nullable=False)  # the conversation of the attempt that locked
    released_at = Column(UtcDateTime, nullable=True)
    released_by = Column(String(80), nullable=True)


class CancellationRequest(Base):
    """A cancellation submitted without verification (§ 312k BGB): received at once, checked by an agent.

    Name, customer number and e-mail or postal address are stored as the customer gave them; customer_id
    is set only when the number and the e-mail address (or the postcode of the postal address) match a
    customer on file; then the confirmation of receipt went to the e-mail address on file.
    status: received | confirmed | rejected.
    """

    __tablename__ = "cancellation_requests"

    id = Column(Integer, primary_key=True)
    reference = Column(String(20), nullable=False, unique=True)
    customer_number = Column(String(40), nullable=False)
    name = Column(String(200), nullable=False)
    email = Column(String(200), nullable=True)  # e-mail address as given, or ...
    postal_address = Column(Text, nullable=True)  # ... the postal address as given
    customer_id = Column(ForeignKey("customers.id"), nullable=True, index=True)
    received_at = Column(UtcDateTime, nullable=False)
    conversation_id = Column(String(120), nullable=False, index=True)
    status = Column(String(12), nullable=False, default="received")


class StaffUser(Base):
    """A person who logs into the console: role agent, supervisor or marketer.

    Created with `python -m bot.cli create-user` (there is no default account); password_hash is an
    argon2 hash. last_seen_at is refreshed while the person has the console open (agents online).
    """

    __tablename__ = "staff_users"

    id = Column(Integer, primary_key=True)
    username = Column(String(80), nullable=False, unique=True)
    first_name = Column(String(80), nullable=False)  # shown to customers with the agent's messages
    password_hash = Column(String(255), nullable=False)
    role = Column(String(12), nullable=False)  # agent | supervisor | marketer
    active = Column(Boolean, nullable=False, default=True, server_default="1")
    created_at = Column(UtcDateTime, nullable=False)
    last_seen_at = Column(UtcDateTime, nullable=True)


class LoginAttempt(Base):
    """One console login attempt, for rate limiting by user name and by client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_attempted_at", "username", "attempted_at"),
        Index("ix_login_attempts_client_key_attempted_at", "client_key", "attempted_at"),
    )

    id = Column(Integer, primary_key=True)
    username = Column(String(80), nullable=False)  # as typed, normalised to lower case
    client_key = Column(String(200), nullable=False)
    succeeded = Column(Boolean, nullable=False)
    attempted_at = Column(UtcDateTime, nullable=False)


class AgentMessage(Base):
    """A message an agent wrote to a customer during a handoff.

    Stored here first (nothing is lost when Rasa is down), then appended to the conversation's tracker as a
    bot utterance marked with the agent (sent_at), and delivered to the customer's widget (delivered_at);
    a message whose delivery is not confirmed is delivered again when the customer comes back.
    """

    __tablename__ = "agent_messages"

    id = Column(Integer, primary_key=True)
    handoff_id = Column(ForeignKey("handoff_requests.id"), nullable=False, index=True)
    conversation_id = Column(String(120), nullable=False, index=True)
    agent_id = Column(ForeignKey("staff_users.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(UtcDateTime, nullable=False)
    sent_at = Column(UtcDateTime, nullable=True)
    delivered_at = Column(UtcDateTime, nullable=True)
    last_error = Column(String(300), nullable=True)


class ConsoleSession(Base):
    """A login to the agent console (server-side session; bot/console/sessions.py).

    The browser holds a random token in an HttpOnly cookie; only its SHA-256 is stored here, so reading this
    table does not let anyone log in. A session ends on logout (ended_at), after the idle timeout since
    last_seen_at, or after the maximum lifetime since created_at (settings CONSOLE_SESSION_*).
    """

    __tablename__ = "console_sessions"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    user_id = Column(ForeignKey("staff_users.id"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UtcDateTime, nullable=False)
    last_seen_at = Column(UtcDateTime, nullable=False)
    ended_at = Column(UtcDateTime, nullable=True)

    user = relationship("StaffUser")


class ConversationFact(Base):
    """One conversation as marketers see it, projected from Rasa's event stream (bot/analytics/).

    Written only by the analytics consumer (idempotent, see ProcessedEvent); read by the dashboard. Holds no
    message text except through FallbackMessage; personal data is limited to the customer reference.
    outcome: open | resolved | offer_accepted | cancelled | handed_off | abandoned.
    """

    __tablename__ = "conversation_facts"
    __table_args__ = (
        Index("ix_conversation_facts_channel_started_at", "channel", "started_at"),
        Index("ix_conversation_facts_outcome_started_at", "outcome", "started_at"),
        Index("ix_conversation_facts_reason_started_at", "reason", "started_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(120), nullable=False, unique=True)
    channel = Column(String(20), nullable=False, default="socketio")
    started_at = Column(UtcDateTime, nullable=False, index=True)
    ended_at = Column(UtcDateTime, nullable=False)  # time of the latest event so far
    customer_id = Column(ForeignKey("customers.id"), nullable=True, index=True)  # once verified
    segment = Column(String(20), nullable=True)  # the customer's segment when verified
    contract_id = Column(ForeignKey("contracts.id"), nullable=True)  # the contract the offer/cancellation was about
    messages = Column(Integer, nullable=False, default=0)  # customer messages
    intents = Column(Text, nullable=False, default="")  # distinct intents seen, comma-separated, in order
    dissatisfaction_peak = Column(Float, nullable=False, default=0.0)
    cancellation_intent = Column(Boolean, nullable=False, default=False)
    cancellation_intent_at = Column(UtcDateTime, nullable=True)
    reason = Column(String(40), nullable=True)  # stated cancellation reason (slot cancellation_reason)
    offer_code = Column(String(40), nullable=True)
    offer_kind = Column(String(20), nullable=True)  # discount | downgrade | pause | credit | price_match ...
    offer_value_cents = Column(Integer, nullable=True)  # what the customer saves per month (or once)
    offer_cost_cents = Column(Integer, nullable=True)  # what the offer costs the company
    offer_made_at = Column(UtcDateTime, nullable=True)
    outcome = Column(String(20), nullable=False, default="open")
    cancelled_at = Column(UtcDateTime, nullable=True)
    handoff_wait_seconds = Column(Integer, nullable=True)
    handoff_handling_seconds = Column(Integer, nullable=True)
    fallbacks = Column(Integer, nullable=False, default=0)
    rating = Column(Integer, nullable=True)
    updated_at = Column(UtcDateTime, nullable=False)


class ProcessedEvent(Base):
    """A Rasa event the analytics consumer has applied: its stable key (SHA-256 of conversation, timestamp,
    type and content; Rasa 3.6 events carry no id), so that a second delivery changes nothing."""

    __tablename__ = "analytics_processed_events"

    key = Column(String(64), primary_key=True)
    conversation_id = Column(String(120), nullable=False, index=True)
    processed_at = Column(UtcDateTime, nullable=False)


class FallbackMessage(Base):
    """A customer message the assistant did not understand, for "what to teach the assistant next"
    (shown masked to marketers)."""

    __tablename__ = "analytics_fallback_messages"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(120), nullable=False, index=True)
    text = Column(Text, nullable=False)
    at = Column(UtcDateTime, nullable=False, index=True)


class ConsumerOffset(Base):
    """How far the analytics consumer has read a source (the embedded SQL event broker's table)."""

    __tablename__ = "analytics_consumer_offsets"

    source = Column(String(60), primary_key=True)
    position = Column(Integer, nullable=False, default=0)
    updated_at = Column(UtcDateTime, nullable=False)


# The dashboard's indexes on conversation_facts (migrations 0009 and 0011, docs/analytics_benchmark.md): one in the
# cancellation breakdown's GROUP BY order (bot/analytics/charts.py); one over the handed-off conversations only,
# for the median wait; one over the verified conversations only, for the distinct customers of a period. The
# additive figures come from the daily roll-up (DailyFigures), not from a scan of the facts.
Index("ix_conversation_facts_breakdown", *(ConversationFact.__table__.c[name] for name in (
    "cancellation_intent", "reason", "offer_kind", "segment", "outcome", "started_at", "channel", "offer_made_at")))
Index("ix_conversation_facts_handoff_wait", ConversationFact.started_at, ConversationFact.channel,
      ConversationFact.handoff_wait_seconds, sqlite_where=ConversationFact.handoff_wait_seconds.is_not(None),
      postgresql_where=ConversationFact.handoff_wait_seconds.is_not(None))
Index("ix_conversation_facts_customers", ConversationFact.started_at, ConversationFact.channel,
      ConversationFact.customer_id, sqlite_where=ConversationFact.customer_id.is_not(None),
      postgresql_where=ConversationFact.customer_id.is_not(None))
# The not-understood messages in text order, for the top list over long periods on SQLite (bot/analytics/charts.py,
# top_fallbacks). The projection keeps at most 500 characters of a text (MAX_FALLBACK_TEXT), at most 2,000 bytes,
# within PostgreSQL's limit for a B-tree entry (about 2,700 bytes).
Index("ix_analytics_fallback_messages_text_at", FallbackMessage.text, FallbackMessage.at)


class DailyFigures(Base):
    """The dashboard's additive figures of the conversations that started on one UTC day on one channel: the daily
    roll-up of conversation_facts (bot/analytics/rollup.py, migration 0011).

    Kept in the same transaction as the facts whenever a fact is inserted, changed or deleted through the ORM (the
    analytics consumers' projection), subtracted by the retention purge, rebuilt by
    `python -m bot.cli analytics-rebuild-rollup`. Holds no personal data (no customer, no text). A row whose
    conversations dropped to 0 is deleted. Dissatisfaction is the sum of the peaks in millionths (integers add up
    exactly, in any order).
    """

    __tablename__ = "analytics_daily_figures"

    day = Column(Date, primary_key=True)
    channel = Column(String(20), primary_key=True)
    conversations = Column(Integer, nullable=False, default=0)
    cancellation_intents = Column(Integer, nullable=False, default=0)
    accepted_offer_cost_cents = Column(BigInteger, nullable=False, default=0)  # cost of the offers accepted
    cancellations = Column(Integer, nullable=False, default=0)
    handoffs = Column(Integer, nullable=False, default=0)
    handoff_waits = Column(Integer, nullable=False, default=0)  # handoffs with a known wait (median: the facts)
    fallbacks = Column(Integer, nullable=False, default=0)
    messages = Column(Integer, nullable=False, default=0)
    ratings = Column(Integer, nullable=False, default=0)
    rating_sum = Column(Integer, nullable=False, default=0)
    dissatisfaction_micros = Column(BigInteger, nullable=False, default=0)


# Messaging channels (WhatsApp, Telegram; bot/channels/, migration 0010).

class ChannelInboundMessage(Base):
    """A provider's message id seen once: a webhook the provider retries (or that reaches two Rasa servers) is
    processed only by whoever inserted this row first (unique per channel)."""

    __tablename__ = "channel_inbound_messages"
    __table_args__ = (UniqueConstraint("channel", "provider_message_id",
                                       name="uq_channel_inbound_messages_channel_provider_message_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    provider_message_id = Column(String(200), nullable=False)
    conversation_id = Column(String(120), nullable=False, index=True)
    received_at = Column(UtcDateTime, nullable=False, index=True)


class ChannelContact(Base):
    """A messaging conversation's address at the provider and when the customer last wrote (WhatsApp's 24-hour
    customer-service window opens with each customer message)."""

    __tablename__ = "channel_contacts"

    conversation_id = Column(String(120), primary_key=True)  # namespaced: "whatsapp:<wa_id>", "telegram:<chat id>"
    channel = Column(String(20), nullable=False)
    recipient = Column(String(120), nullable=False)  # the provider's address: WhatsApp wa_id, Telegram chat id
    last_customer_message_at = Column(UtcDateTime, nullable=False)


class ChannelOutboundMessage(Base):
    """Every message the assistant or an agent sent on a messaging channel, with the provider's delivery status.

    status: queued | sent | delivered | read | failed. Status callbacks may arrive out of order: a status only
    moves forward (sent < delivered < read); failed is final. `agent_message_id` links an agent's reply, so the
    console can show a reply that finally failed.
    """

    __tablename__ = "channel_outbound_messages"

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    conversation_id = Column(String(120), nullable=False, index=True)
    provider_message_id = Column(String(200), nullable=True, index=True)
    kind = Column(String(20), nullable=False)  # text | buttons | list | template | keyboard
    body = Column(Text, nullable=False)  # the request body sent to the provider (JSON)
    status = Column(String(12), nullable=False, default="queued")
    status_at = Column(UtcDateTime, nullable=True)
    attempts = Column(Integer, nullable=False, default=0, server_default="0")
    last_error = Column(String(300), nullable=True)
    agent_message_id = Column(ForeignKey("agent_messages.id"), nullable=True, index=True)
    created_at = Column(UtcDateTime, nullable=False, index=True)

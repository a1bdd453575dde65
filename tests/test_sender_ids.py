"""Conversation ids of the messaging channels (bot/channels/sender_ids.py)."""
import pytest

from bot.channels.sender_ids import SenderIdError, channel_of, conversation_id, is_reserved, provider_id


def test_each_channel_gets_its_own_conversation_for_the_same_number() -> None:
    assert conversation_id("whatsapp", "4917012345678") == "whatsapp:4917012345678"
    assert conversation_id("telegram", 4917012345678) == "telegram:4917012345678"
    assert conversation_id("whatsapp", "1") != conversation_id("telegram", "1")


def test_provider_id_inverts_and_checks_the_channel() -> None:
    assert provider_id("telegram", conversation_id("telegram", -100123)) == "-100123"
    with pytest.raises(SenderIdError):
        provider_id("whatsapp", "telegram:5")
    with pytest.raises(SenderIdError):
        conversation_id("fax", "5")
    with pytest.raises(SenderIdError):
        conversation_id("whatsapp", " ")


def test_website_senders_cannot_name_a_messaging_conversation() -> None:
    assert channel_of("whatsapp:491") == "whatsapp"
    assert channel_of("6f1c2d8e-socketio-session") is None
    assert is_reserved("WhatsApp:491") and is_reserved(" telegram:5")
    assert not is_reserved("web-visitor-17") and not is_reserved(None)

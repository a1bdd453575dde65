"""The trained assistant reports message sentiment: in /model/parse results and in the tracker.

Loads models/retention.tar.gz (trained by `python -m bot.cli train`, which scripts/test.sh runs).
"""
from __future__ import annotations

import uuid

import httpx
import pytest
from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.message import Message

from bot.cli import MODEL_PATH
from bot.nlp.sentiment import LABELS, NEGATIVE, NEUTRAL, POSITIVE, train_model
from bot.nlp.sentiment_component import SENTIMENT, SentimentAnalyzer
from bot.settings import PROJECT_ROOT
from tests.servers import RunningAssistant


@pytest.fixture(scope="module")
def agent() -> Agent:
    if not MODEL_PATH.exists():
        raise RuntimeError(f"No trained model at {MODEL_PATH}: run `python -m bot.cli train` first.")
    return Agent.load(str(MODEL_PATH))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Na super, schon wieder kein Netz", NEGATIVE),
        ("Das ist kein guter Service, ich bin echt sauer!!!", NEGATIVE),
        ("Vielen Dank, das hat mir sehr geholfen 😊", POSITIVE),
        ("Wann endet mein Vertrag?", NEUTRAL),
    ],
)
async def test_parse_result_carries_the_sentiment(agent: Agent, text: str, expected: str) -> None:
    result = await agent.parse_message(text)
    sentiment = result[SENTIMENT]
    assert set(sentiment) == {"label", "score"}
    assert sentiment["label"] == expected
    assert 0.0 <= sentiment["score"] <= 1.0
    assert result["intent"]["name"]  # the intent classification is still there


async def test_button_payloads_still_parse(agent: Agent) -> None:
    result = await agent.parse_message("/affirm")
    assert result["intent"]["name"] == "affirm"
    assert result.get(SENTIMENT, {"label": NEUTRAL})["label"] == NEUTRAL


def test_component_handles_empty_text_and_payloads() -> None:
    model = train_model(PROJECT_ROOT / "data" / "sentiment" / "train.tsv")
    component = SentimentAnalyzer(SentimentAnalyzer.get_default_config(), None, None, model)  # type: ignore[arg-type]
    messages = [Message(data={"text": text}) for text in ("", "/cancel_now", '/inform{"customer_id":"K100001"}',
                                                          "Das ist eine Frechheit!")]
    component.process(messages)
    labels = [m.get(SENTIMENT)["label"] for m in messages]
    assert labels == [NEUTRAL, NEUTRAL, NEUTRAL, NEGATIVE]
    assert all(SENTIMENT in m.as_dict(only_output_properties=True) for m in messages)


@pytest.mark.e2e
async def test_rest_conversation_stores_sentiment_in_the_tracker(assistant_with_api: RunningAssistant) -> None:
    assistant = assistant_with_api
    sender = f"test-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(timeout=60, headers=assistant.api_headers()) as http:
        parsed = await http.post(f"{assistant.rasa_url}/model/parse", json={"text": "Danke für nichts!!!"})
        parsed.raise_for_status()
        assert parsed.json()[SENTIMENT]["label"] == NEGATIVE

        for text, expected in [("Guten Tag", NEUTRAL), ("Schon wieder kein Internet, ich bin total genervt", NEGATIVE)]:
            reply = await http.post(assistant.rest_url, json={"sender": sender, "message": text})
            reply.raise_for_status()
            assert reply.json(), "the assistant answers"
            tracker = await http.get(f"{assistant.rasa_url}/conversations/{sender}/tracker")
            tracker.raise_for_status()
            latest = tracker.json()["latest_message"]
            assert latest["text"] == text
            assert latest[SENTIMENT]["label"] == expected
            assert latest[SENTIMENT]["label"] in LABELS and 0.0 <= latest[SENTIMENT]["score"] <= 1.0

"""Message-level sentiment for German customer-service chat: negative, neutral or positive.

A multinomial logistic regression over three kinds of evidence:

- word features: lower-cased lemmas (spaCy's German lookup table, pruned to the words the model
  knows) with negation scoping, so that "nicht schlecht" gives `NEG_schlecht`, not `schlecht`;
- character n-grams of the folded text, which survive typos ("entäuscht", "servis");
- a few hand features: a small German polarity lexicon (with intensifiers and negation),
  sarcasm markers ("na super, schon wieder", "danke für nichts"), emoji and emoticon polarity,
  ALL CAPS and repeated "!!!" / "???".

A calibrated decision rule turns the probabilities into a label: the model leaves "neutral" only
when the winning polar class is confident enough (`min_confidence`), because chat-trained models
over-read polarity into plain statements.

Everything here is plain Python and scikit-learn; `bot.nlp.sentiment_component` wraps it for Rasa.
"""
from __future__ import annotations

import csv
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
LABELS: tuple[str, ...] = (NEGATIVE, NEUTRAL, POSITIVE)


class SentimentDataError(ValueError):
    """A training file line that cannot be read (the message names the file and line)."""


@dataclass(frozen=True)
class Sentiment:
    """The sentiment of one message: its label and the model's confidence in that label (0..1)."""

    label: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4)}


NO_SENTIMENT = Sentiment(NEUTRAL, 1.0)
"""For messages without words to judge: empty text and button payloads ("/intent{...}")."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def read_examples(path: Path) -> list[Example]:
    """Read a `text<TAB>label` file with a header line; every bad line is reported, none skipped."""
    examples: list[Example] = []
    problems: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header != ["text", "label"]:
            raise SentimentDataError(f"{path}: the first line must be 'text<TAB>label', got {header!r}")
        for number, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != 2 or not row[0].strip():
                problems.append(f"{path}:{number}: expected 'text<TAB>label', got {row!r}")
            elif row[1].strip() not in LABELS:
                problems.append(f"{path}:{number}: unknown label {row[1]!r} (use one of {', '.join(LABELS)})")
            else:
                examples.append(Example(row[0].strip(), row[1].strip()))
    if problems:
        raise SentimentDataError("\n".join(problems))
    if {e.label for e in examples} != set(LABELS):
        raise SentimentDataError(f"{path}: every label ({', '.join(LABELS)}) needs examples")
    return examples


# --- text preparation -------------------------------------------------------------------------

_EMOJI_RANGES = "\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2764"
_EMOTICON = r"(?:[:;=8xX][-'^o]?[()\[\]DPp/\\|*]+|<3|\^\^|:-?\)+)"
_TOKEN = re.compile(
    rf"{_EMOTICON}(?=\s|$|[.,!?])"
    rf"|[{_EMOJI_RANGES}]"
    r"|[^\W\d_]+(?:[-'’][^\W\d_]+)*"
    r"|\d+(?:[.,:/]\d+)*"
    r"|[!?]+"
    r"|[.,;:…]+|[-–—()]"
)
_CLAUSE_END = re.compile(r"^(?:[.,;:!?…()–—-]+|aber|sondern|doch|obwohl|weil|und|oder)$")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"[@#](\w+)")

NEGATORS = frozenset({
    "nicht", "nich", "net", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals",
    "nichts", "nix", "niemand", "niemandem", "niemanden", "nirgends", "keinerlei", "weder", "ohne",
})
INTENSIFIERS = frozenset({
    "sehr", "total", "echt", "richtig", "voll", "extrem", "absolut", "wirklich", "so", "mega",
    "ziemlich", "völlig", "komplett", "äußerst", "besonders", "unglaublich", "überhaupt", "gar",
    "mehr", "viel", "zu", "ganz", "wahnsinnig", "super", "ultra", "maßlos", "zutiefst",
})

# The project's own small polarity lexicon: lower-case forms and lemmas, judged for customer chat.
POSITIVE_WORDS = frozenset("""
gut gute guter gutes gutt super supi toll tolle toller tolles tollen klasse prima perfekt perfekte
zufrieden zufriedener zufriedenen dankbar hilfreich hilfreiche hilfsbereit weitergeholfen gerne
freundlich freundliche freundlicher nett nette netter top spitze genial großartig großartige hervorragend
ausgezeichnet exzellent exzellenter wunderbar begeistert begeistern freuen freue freut froh glücklich
lob loben empfehlen empfehle empfohlen kompetent kompetente fair faire kulant kulanz stabil zuverlässig
einwandfrei unkompliziert schön schöne schöner cool nice geil lieben liebe mögen gefallen gefällt
bestens beste besten besser erleichtert überzeugt überzeugen geklappt gelöst gerettet klappt läuft
angenehm attraktiv günstig günstiger pünktlich schnell schnelle professionell hammer respekt weiter
""".split())
NEGATIVE_WORDS = frozenset("""
schlecht schlechte schlechter schlechtes schlechten schlechteste schlechtester mies miese mieses
miserabel miserabler katastrophe katastrophal frechheit unverschämt unverschämtheit abzocke betrug
enttäuscht enttäuschend enttäuschung enttäuschen entäuscht ärgerlich ärgern ärgert ärger sauer wütend
wut verärgert genervt nervig nerven nervt unzufrieden unzufriedener unfähig unfähiger unfreundlich
unhöflich inakzeptabel unzumutbar zumutung lächerlich peinlich scheiße scheiss mist schrott kacke hassen
hasse furchtbar schrecklich grauenhaft grottenschlecht kaputt ausfall ausfälle störung störungen
problem probleme ständig dauernd frust frustriert frustrierend chaos ätzend nutzlos unmöglich
unprofessionell fassungslos schockiert belogen betrogen verarscht witz saftladen armutszeugnis
trauerspiel satt schlimm schlimmer schlimmste leider schade verspätung verspätet ausgefallen
wartezeit warteschleife beschwerde beschweren dreist ignoriert abgezockt nervtötend langsam lahm
reklamation mangelhaft ungenügend übel blöd blöde blöder doof dumm dämlich verdammt krass ewig ewigkeit
schnauze reicht reicht's unfassbar bereue bereuen ausrasten kragen anwalt verbraucherzentrale hinhalten
beleidigung ausreden unhöflich theater vertrauen verschwenden verschwendet schrott stinksauer abraten
beklagen meckern dürftig zumutbar unerhört skandal skandalös mangel ungerechtfertigt falsch fehler
idioten idiot lügen lüge gelogen unzuverlässig unbrauchbar überteuert teurer teuer wucher
""".split())
GREETINGS = frozenset({"guten", "gute", "schönen", "schöne", "schönes"})
GREETING_NOUNS = frozenset({"tag", "morgen", "abend", "nacht", "wochenende", "tach"})
POSITIVE_EMOJI = frozenset("😀😃😄😁😆😊🙂😉😍🥰😘👍👌🙏❤💚💙🎉🚀😎🤩💪✅☺⭐")
NEGATIVE_EMOJI = frozenset("😠😡🤬😤😞😟😢😭😩😫🙄👎💩😒😕🙁☹😖😣😬🤮🤢❌")
_POSITIVE_EMOTICON = re.compile(r"^(?:[:;=8xX][-'^o]?[)\]DPp*]+|<3|\^\^)$")
_NEGATIVE_EMOTICON = re.compile(r"^[:;=8][-'^o]?[(\[/\\|]+$")

_SARCASM = [
    re.compile(p) for p in (
        r"\bna (?:super|toll|klasse|prima|bravo|großartig|herrlich|wunderbar|spitze|bestens)\b",
        r"\bdanke? (?:für|fuer) (?:gar |rein gar )?nichts\b",
        r"^\W*(?:na )?(?:super|toll|klasse|prima|großartig|bravo|spitze|wunderbar|herrlich)\W+"
        r"(?:jetzt|nun|und jetzt|wieder|schon wieder|auch noch|noch ein)\b",
        r"\b(?:kein|keine|keinen|nicht|nie|niemand|schon wieder|wieder)\b[^!?]{0,80}"
        r"\b(?:super|toll|klasse|prima|großartig|bravo|spitzen?) ?(?:service|leistung|gemacht|arbeit|job)\b",
        r"\b(?:vielen|herzlichen|besten) dank auch\b",
        r"\b(?:super|toll|klasse|prima|großartig|wunderbar|bravo|spitze|genial|perfekt|läuft)\b[^.!?]{0,40}"
        r"\b(?:schon wieder|wieder|immer noch|noch eine?n?|nie|erst in)\b",
        r"\b(?:echt|wirklich|ganz) (?:super|toll|großartig|klasse|prima), (?:dass|wie)\b",
        r"\bsehr witzig\b",
        r"\bläuft ja\b",
        r"…\s*nicht\W*$",
    )
]


def fold(text: str) -> str:
    """Normalise for matching: NFC, lower case, URLs dropped, letters repeated 3+ times shortened."""
    text = unicodedata.normalize("NFC", text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub(r"\1", text)
    return _REPEATED_LETTER.sub(r"\1\1", text.lower())


def tokenize(text: str) -> list[str]:
    """Words, numbers, punctuation runs, emojis and emoticons of `text` (case kept)."""
    text = _MENTION.sub(r"\1", _URL.sub(" ", unicodedata.normalize("NFC", text)))
    return _TOKEN.findall(text)


class Lemmatizer:
    """Lower-case word form -> lower-case lemma, from spaCy's German lookup table."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = dict(table)

    @classmethod
    def from_spacy_lookups(cls) -> Lemmatizer:
        from spacy.lookups import load_lookups

        source = load_lookups(lang="de", tables=["lemma_lookup"]).get_table("lemma_lookup")
        table: dict[str, str] = {}
        for form, lemma in source.items():
            # spaCy's table is case sensitive; the lower-case entry wins over a capitalised one.
            key = str(form).lower()
            if key not in table or str(form) == key:
                table[key] = str(lemma).lower()
        return cls(table)

    def lemma(self, word: str) -> str:
        word = word.lower()
        return self.table.get(word, word)

    def pruned(self, keep: Iterable[str]) -> Lemmatizer:
        """Only the forms whose lemma is in `keep`: the others cannot change a prediction."""
        wanted = set(keep)
        return Lemmatizer({form: lemma for form, lemma in self.table.items() if lemma in wanted})


def _is_word(token: str) -> bool:
    return token[:1].isalpha()


def word_features(tokens: Sequence[str], lemmatizer: Lemmatizer) -> list[str]:
    """Lemmas with negation scope: after a negator, words up to the clause end get `NEG_`.

    A clause-final negator ("Das gefällt mir nicht") scopes back over its clause instead.
    """
    lowered = [_REPEATED_LETTER.sub(r"\1\1", t.lower()) for t in tokens]
    features: list[str] = []
    clause: list[int] = []  # indices into `features` of the current clause's words
    negated = False
    for index, token in enumerate(lowered):
        if _CLAUSE_END.match(token):
            negated = False
            clause = []
            if token[0] in "!?":
                features.append("!" if "!" in token else "?")
            continue
        if not _is_word(token):
            continue
        lemma = lemmatizer.lemma(token)
        if token in NEGATORS:
            features.append("kein" if token.startswith("kein") else token)
            following = lowered[index + 1] if index + 1 < len(lowered) else "."
            if _CLAUSE_END.match(following) or following in {"mehr", "so", "wirklich"}:
                for position in clause:
                    if not features[position].startswith("NEG_"):
                        features[position] = "NEG_" + features[position]
            negated = True
            continue
        feature = f"NEG_{lemma}" if negated else lemma
        clause.append(len(features))
        features.append(feature)
    return features


@dataclass(frozen=True)
class HandFeatures:
    positive: float
    negative: float
    sarcasm: float
    caps: float
    exclamations: float
    questions: float
    positive_emoji: float
    negative_emoji: float

    def vector(self) -> list[float]:
        return [self.positive, self.negative, self.sarcasm, self.caps, self.exclamations, self.questions,
                self.positive_emoji, self.negative_emoji]


def lexicon_scores(tokens: Sequence[str], lemmatizer: Lemmatizer) -> tuple[float, float]:
    """Positive and negative evidence from the lexicon; intensifiers weigh 1.5, negation flips."""
    positive = negative = 0.0
    lowered = [t.lower() for t in tokens]
    negated = False
    boost = 1.0
    for index, token in enumerate(lowered):
        if _CLAUSE_END.match(token):
            negated, boost = False, 1.0
            continue
        if token in NEGATORS:
            negated = True
            continue
        if token in GREETINGS and index + 1 < len(lowered) and lowered[index + 1] in GREETING_NOUNS:
            continue  # "Guten Morgen" is a greeting, not praise
        forms = {token, lemmatizer.lemma(token), *token.split("-")}  # "Schrott-Router"
        polarity = 1 if forms & POSITIVE_WORDS else 0
        polarity -= 1 if forms & NEGATIVE_WORDS else 0
        if token in INTENSIFIERS and polarity == 0:
            boost = 1.5
            continue
        if polarity == 0:
            continue
        following: list[str] = []
        for later in lowered[index + 1: index + 4]:
            if _CLAUSE_END.match(later):
                break
            following.append(later)
        # a clause-final "nicht" negates backwards: "Das gefällt mir nicht"
        post_negated = bool(following) and following[-1] in {"nicht", "nich", "net"} and (
            index + len(following) + 1 >= len(lowered) or _CLAUSE_END.match(lowered[index + len(following) + 1])
        )
        if negated or post_negated:
            # "nicht schlecht" leans positive, "nicht gut" is plainly negative
            polarity = -polarity
            weight = 0.5 if polarity > 0 else 1.0
        else:
            weight = 1.0
        if polarity > 0:
            positive += weight * boost
        else:
            negative += weight * boost
        boost = 1.0
    return positive, negative


def hand_features(text: str, tokens: Sequence[str], lemmatizer: Lemmatizer) -> HandFeatures:
    folded = fold(text)
    positive, negative = lexicon_scores(tokens, lemmatizer)
    words = [t for t in tokens if _is_word(t) and len(t) >= 2]
    caps = sum(1 for t in words if t.isupper()) / len(words) if words else 0.0
    positive_emoji = sum(1 for t in tokens if t in POSITIVE_EMOJI or _POSITIVE_EMOTICON.match(t))
    negative_emoji = sum(1 for t in tokens if t in NEGATIVE_EMOJI or _NEGATIVE_EMOTICON.match(t))
    return HandFeatures(
        positive=math.log1p(positive),
        negative=math.log1p(negative),
        sarcasm=float(any(p.search(folded) for p in _SARCASM)),
        caps=caps if len(words) >= 1 and caps >= 0.5 else 0.0,
        exclamations=min(max((len(m) for m in re.findall(r"!+", text)), default=0), 3) / 3,
        questions=float(bool(re.search(r"\?\s*[?!]|!\s*\?", text))),
        positive_emoji=math.log1p(positive_emoji),
        negative_emoji=math.log1p(negative_emoji),
    )


# --- the model ----------------------------------------------------------------------------------

@dataclass
class SentimentConfig:
    """Hyper-parameters (defaults tuned as described in docs/sentiment.md)."""

    c: float = 4.0
    hand_weight: float = 1.0
    min_confidence: dict[str, float] = field(default_factory=lambda: {NEGATIVE: 0.5, POSITIVE: 0.5})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SentimentConfig:
        config = cls()
        if "c" in values:
            config.c = float(values["c"])
        if "hand_weight" in values:
            config.hand_weight = float(values["hand_weight"])
        if values.get("min_confidence"):
            config.min_confidence = {**config.min_confidence, **{k: float(v) for k, v in
                                                                 values["min_confidence"].items()}}
        return config


def _identity(tokens: list[str]) -> list[str]:
    return tokens


class SentimentModel:
    """Train with `fit`, predict with `predict`, store with `save` / `load`."""

    def __init__(self, config: SentimentConfig | None = None, lemmatizer: Lemmatizer | None = None) -> None:
        self.config = config or SentimentConfig()
        self.lemmatizer = lemmatizer
        self.words = TfidfVectorizer(analyzer=_identity, ngram_range=(1, 1), sublinear_tf=True, min_df=1)
        self.word_pairs = TfidfVectorizer(analyzer=_bigrams, sublinear_tf=True, min_df=2)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                                     preprocessor=fold)
        self.classifier = LogisticRegression(C=self.config.c, max_iter=2000, class_weight="balanced")

    @property
    def trained(self) -> bool:
        return hasattr(self.classifier, "classes_")

    def _matrix(self, texts: Sequence[str], *, fit: bool) -> sparse.csr_matrix:
        assert self.lemmatizer is not None
        token_lists = [tokenize(t) for t in texts]
        words = [word_features(tokens, self.lemmatizer) for tokens in token_lists]
        hand = np.array([hand_features(t, tokens, self.lemmatizer).vector()
                         for t, tokens in zip(texts, token_lists, strict=True)]) * self.config.hand_weight
        if fit:
            parts = [self.words.fit_transform(words), self.word_pairs.fit_transform(words),
                     self.chars.fit_transform(texts)]
        else:
            parts = [self.words.transform(words), self.word_pairs.transform(words), self.chars.transform(texts)]
        return sparse.hstack([*parts, sparse.csr_matrix(hand)], format="csr")

    def fit(self, examples: Sequence[Example]) -> SentimentModel:
        if self.lemmatizer is None:
            self.lemmatizer = Lemmatizer.from_spacy_lookups()
        texts = [e.text for e in examples]
        matrix = self._matrix(texts, fit=True)
        self.classifier.fit(matrix, [e.label for e in examples])
        # Keep only lemmas that can matter: the learnt vocabulary and the lexicon.
        vocabulary = {w.removeprefix("NEG_") for w in self.words.vocabulary_}
        self.lemmatizer = self.lemmatizer.pruned(vocabulary | POSITIVE_WORDS | NEGATIVE_WORDS)
        logger.info("Sentiment model trained on %d examples, %d word features", len(texts), len(vocabulary))
        return self

    def probabilities(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Class probabilities per text (texts without any word get plain neutral)."""
        if not self.trained:
            raise RuntimeError("The sentiment model has not been trained")
        rows = self.classifier.predict_proba(self._matrix(list(texts), fit=False))
        classes = list(self.classifier.classes_)
        return [{label: float(row[classes.index(label)]) for label in LABELS} for row in rows]

    def decide(self, probabilities: Mapping[str, float]) -> Sentiment:
        """The calibrated rule: a polar label only when it wins and clears its minimum confidence."""
        best = max(LABELS, key=lambda label: probabilities[label])
        if best != NEUTRAL and probabilities[best] < self.config.min_confidence.get(best, 0.0):
            best = NEUTRAL
        return Sentiment(best, probabilities[best])

    def predict_many(self, texts: Sequence[str]) -> list[Sentiment]:
        results: list[Sentiment | None] = [None if judgeable(t) else NO_SENTIMENT for t in texts]
        pending = [i for i, r in enumerate(results) if r is None]
        if pending:
            for index, probabilities in zip(pending, self.probabilities([texts[i] for i in pending]), strict=True):
                results[index] = self.decide(probabilities)
        return [r for r in results if r is not None]

    def predict(self, text: str) -> Sentiment:
        return self.predict_many([text])[0]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, directory / "sentiment.joblib")

    @classmethod
    def load(cls, directory: Path) -> SentimentModel:
        model = joblib.load(directory / "sentiment.joblib")
        if not isinstance(model, cls):
            raise TypeError(f"{directory} does not hold a {cls.__name__}")
        return model


def _bigrams(words: list[str]) -> list[str]:
    return [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def judgeable(text: str | None) -> bool:
    """False for empty text and button payloads ("/intent{...}"): nothing there to judge."""
    if not text or not text.strip():
        return False
    stripped = text.strip()
    if stripped.startswith("/") and re.match(r"^/[\w.-]+(?:\{.*\}|@[\d.]+)?$", stripped, re.DOTALL):
        return False
    return any(_is_word(t) or t in POSITIVE_EMOJI or t in NEGATIVE_EMOJI or _POSITIVE_EMOTICON.match(t)
               or _NEGATIVE_EMOTICON.match(t) or t[0] in "!?" for t in tokenize(text))


def train_model(path: Path, config: SentimentConfig | None = None,
                lemmatizer: Lemmatizer | None = None) -> SentimentModel:
    """Read the labelled examples at `path` and fit a model on all of them."""
    return SentimentModel(config, lemmatizer).fit(read_examples(path))

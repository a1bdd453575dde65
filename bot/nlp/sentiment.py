"""Message-level sentiment for German customer-service chat: negative, neutral or positive.

A multinomial logistic regression over three kinds of evidence:

- word features: lower-cased lemmas (spaCy's German lookup table, pruned to the words the model
  knows) with negation scoping, so that "nicht schlecht" gives `NEG_schlecht`, not `schlecht`;
- character n-grams of the folded text, which survive typos ("entäuscht", "servis");
- a few hand features: a small German polarity lexicon (with intensifiers and negation),
  sarcasm markers ("na super, schon wieder", "danke für nichts"), emoji and emoticon polarity,
  ALL CAPS and repeated "!!!" / "???".

A calibrated decision rule turns the probabilities into a label: the model leaves "neutral" only
when the winning polar class is confident enough. There is one rule for every text: the model
contains no rules fitted to an evaluation set (docs/sentiment.md, "What is not in the model").

Everything here is plain Python and scikit-learn; `bot.nlp.sentiment_component` wraps it for Rasa, and
`bot.evaluation.sentiment_model` measures it (`python -m bot.evaluation.sentiment_model`).
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
ausgezeichnet exzellent exzellenter wunderbar begeistert begeistern freuen freue freu freut froh glücklich
lob loben empfehlen empfehle empfohlen kompetent kompetente fair faire kulant kulanz stabil zuverlässig
einwandfrei unkompliziert schön schöne schöner cool nice geil lieben liebe mögen gefallen gefällt
bestens beste besten besser erleichtert überzeugt überzeugen geklappt gelöst gerettet klappt läuft
angenehm attraktiv günstig günstiger pünktlich schnell schnelle professionell hammer respekt
great awesome excellent thanks thank thx merci lecker fantastisch freude erfreut entspannt
reibungslos problemlos erleichterung vertrauen vertraue zumutbar
""".split())
NEGATIVE_WORDS = frozenset("""
schlecht schlechte schlechter schlechtes schlechten schlechteste schlechtester mies miese mieses
miserabel miserabler katastrophe katastrophal frechheit unverschämt unverschämtheit abzocke betrug
enttäuscht enttäuschend enttäuschung enttäuschen entäuscht ärgerlich ärgern ärgert ärger sauer wütend
wut verärgert genervt nervig nerven nervt unzufrieden unzufriedener unfähig unfähiger unfreundlich
unhöflich inakzeptabel unzumutbar zumutung lächerlich peinlich scheiße scheiss mist schrott kacke hassen
hasse furchtbar schrecklich grauenhaft grottenschlecht kaputt ausfall ausfälle störung störungen
problem probleme ständig dauernd frust frustriert frustrierend chaos ätzend nutzlos unmöglich
unprofessionell fassungslos schockiert belogen betrogen verarscht saftladen armutszeugnis
trauerspiel satt schlimm schlimmer schlimmste leider schade verspätung verspätet ausgefallen
wartezeit warteschleife beschwerde beschweren dreist ignoriert abgezockt nervtötend langsam lahm
reklamation mangelhaft ungenügend übel blöd blöde blöder doof dumm dämlich verdammt krass ewig ewigkeit
schnauze reicht reicht's unfassbar bereue bereuen ausrasten kragen anwalt verbraucherzentrale hinhalten
beleidigung ausreden unhöflich theater verschwenden verschwendet schrott stinksauer abraten
beklagen meckern dürftig unerhört skandal skandalös mangel ungerechtfertigt falsch fehler
idioten idiot lügen lüge gelogen unzuverlässig unbrauchbar überteuert teurer teuer wucher
bad worst terrible awful sucks horrible traurig sorgen krank ärgernis unfair
ungerecht
""".split())
GREETINGS = frozenset({"guten", "gute", "schönen", "schöne", "schönes"})
GREETING_NOUNS = frozenset({"tag", "morgen", "abend", "nacht", "wochenende", "tach"})
POSITIVE_EMOJI = frozenset("😀😃😄😁😆😊🙂😉😍🥰😘👍👌🙏❤💚💙🎉🚀😎🤩💪✅☺⭐")
NEGATIVE_EMOJI = frozenset("😠😡🤬😤😞😟😢😭😩😫🙄👎💩😒😕🙁☹😖😣😬🤮🤢❌")
_POSITIVE_EMOTICON = re.compile(r"^(?:[:;=8xX][-'^o]?[)\]DPp*]+|<3|\^\^)$")
_NEGATIVE_EMOTICON = re.compile(r"^[:;=8][-'^o]?[(\[/\\|]+$")

# Phrases whose words are not polar on their own ("die Nase voll", "weiß Ihre Hilfe zu schätzen").
_NEGATIVE_PHRASES = re.compile(
    r"\b(?:schnauze|nase|kanne) (?:gestrichen )?voll|faxen dicke|(?:mir )?reicht(?:'s| es)\b|geht'?s noch|"
    r"\bwie oft (?:soll|muss|noch)|was soll (?:das|der|die)\b|im stich|steine in den weg|das (?:aller)?letzte\b|"
    r"\bich bin raus\b|\bbin ich weg\b|\bwie immer\b|\btypisch\b|unter aller|hinten und vorne|"
    r"zum verzweifeln|(?:nichts|irgendwas) im griff|\bdaneben\b|veräppelt|verschaukelt|für dumm|"
    r"nicht (?:ernst genommen|euer ernst|ihr ernst|wahr sein)|keine lust mehr|mit mir nicht|"
    r"nichts (?:passiert|getan|tut sich)|das fass|\bein witz\b|(?:wie|warum) (?:kann|können) (?:man|sie|ihr) nur|"
    r"schlechter geht'?s nicht|kein kunde mehr|"
    r"\bwill (?:hier |einfach |nur )*(?:raus|weg)\b|\bbin (?:ich )?(?:ab )?(?:nächste\w* \w+ )?weg\b|"
    r"\b(?:akzeptiere|akzeptieren|hinnehmen|lasse)\b[^.!?]{0,25}\bnicht\b|nicht (?:akzeptieren|hinnehmen)\b|"
    # a low rating: one or two stars or points, "eine 1"
    r"^\W*(?:nur |eine? |ne |glatte )?(?:1|2|eins|zwei|ein stern)\W*(?:$|stern|punkt|von)|\b(?:1|2|ein|zwei) (?:von (?:5|fünf) )?(?:stern|sterne|punkte?)\b"
)
_POSITIVE_PHRASES = re.compile(
    r"zu schätzen|große hilfe|weiter so|gut beraten|macht (?:richtig |echt )?spaß|im gegenteil|"
    r"\b(?:hat|hats|hat's) (?:alles )?(?:gut |super |prima |wunderbar )?(?:geklappt|funktioniert)|"
    r"\balles (?:gut|bestens|super|prima)\b|kann (?:mich )?nicht (?:meckern|beklagen)|\bpasst\b|"
    # a high rating: four or five stars or points, "eine glatte Fünf"
    r"^\W*(?:eine? |ne |glatte |klare |volle )*(?:4|5|vier|fünf)\W*$|\b(?:4|5|vier|fünf) (?:von (?:5|fünf) )?(?:sterne|punkte)\b|"
    r"\b(?:glatte|klare|volle) (?:4|5|vier|fünf)\b"
)
# The same trouble again: "schon wieder", "zum dritten Mal", "seit zwei Wochen".
_PERSISTENCE = re.compile(
    r"\b(?:schon wieder|immer noch|noch immer|immer wieder|wieder mal|schon zum|ständig|dauernd|jedes mal|"
    r"die ganze zeit|immer (?:beim|wenn|nach)|mal wieder|"
    r"zum (?:\w+ten|\d+\.) mal|\w+mal (?:angerufen|geschrieben|erklärt|gemeldet)|"
    r"seit (?:\d+|zwei|drei|vier|fünf|sechs|mehreren|vielen|etlichen) (?:tagen|wochen|monaten|stunden))\b"
)

_PRAISE = r"(?:super|toll|klasse|prima|großartig|bravo|spitze|wunderbar|herrlich|genial|perfekt)"
# The trouble that turns praise into sarcasm; not a bare "wieder" ("Klasse, das Internet läuft wieder").
_TROUBLE = (r"(?:schon wieder|wieder (?:mal|kein\w*|nicht\w*|nix|eine?n?|weg|aus\w*|abgebucht|falsch)|"
            r"immer noch|auch noch|noch eine?n?\b|nie\b|erst in|gar nichts|nicht mehr)")
_SARCASM = [
    re.compile(p) for p in (
        r"\bna (?:super|toll|klasse|prima|bravo|großartig|herrlich|wunderbar|spitze|bestens)\b",
        r"\bdanke? (?:auch )?(?:für|fuer) (?:gar |rein gar )?(?:nichts|nix)\b",
        # praise for something nobody likes: "Danke für die tolle Preiserhöhung"
        rf"\b{_PRAISE}\w*\s+(?:\w+\s+)?(?:preis)?(?:erhöhung|nachzahlung|mahnung|warteschleife|wartezeit|"
        r"störung|verspätung|ausfall|abbuchung|kündigungsfrist)\b",
        rf"^\W*{_PRAISE}\W+(?:jetzt|nun|und jetzt)\b[^.!?]{{0,40}}\b{_TROUBLE}",
        r"\b(?:kein|keine|keinen|nicht|nie|niemand|schon wieder|wieder)\b[^!?]{0,80}"
        rf"\b{_PRAISE} ?(?:service|leistung|gemacht|arbeit|job)\b",
        r"\b(?:vielen|herzlichen|besten) dank auch\b",
        rf"\b{_PRAISE}\b[^.!?]{{0,40}}\b{_TROUBLE}",
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
        from spacy.util import load_language_data, registry

        # The raw JSON (spaCy's `Table` keeps only hashes of the word forms, which cannot be pruned).
        source: dict[str, str] = load_language_data(registry.lookups.get("de")["lemma_lookup"])
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
    persistence: float

    def vector(self) -> list[float]:
        return [self.positive, self.negative, self.sarcasm, self.caps, self.exclamations, self.questions,
                self.positive_emoji, self.negative_emoji, self.persistence]


def lexicon_scores(tokens: Sequence[str], lemmatizer: Lemmatizer) -> tuple[float, float]:
    """Positive and negative evidence from the lexicon; intensifiers weigh 1.5, negation flips.

    A negator flips a polar word up to three words later in the same clause ("nicht so schlecht",
    "kein guter Service"), not farther ("Keiner kümmert sich um mein Problem" stays negative).
    """
    positive = negative = 0.0
    lowered = [t.lower() for t in tokens]
    negator_at: int | None = None
    boost = 1.0
    for index, token in enumerate(lowered):
        if _CLAUSE_END.match(token):
            negator_at, boost = None, 1.0
            continue
        if token in NEGATORS:
            negator_at = index
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
        # a clause-final "nicht" (or "nicht mehr") negates backwards: "Das gefällt mir nicht (mehr)"
        tail = following[:-1] if following[-1:] == ["mehr"] else following
        post_negated = bool(tail) and tail[-1] in {"nicht", "nich", "net"} and (
            index + len(following) + 1 >= len(lowered) or _CLAUSE_END.match(lowered[index + len(following) + 1])
        )
        negated = negator_at is not None and index - negator_at <= 3
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
    positive += len(_POSITIVE_PHRASES.findall(folded))
    negative += len(_NEGATIVE_PHRASES.findall(folded))
    sarcasm = any(p.search(folded) for p in _SARCASM)
    if sarcasm:  # the praise in "Na super, schon wieder kein Netz" is the complaint
        positive, negative = 0.0, negative + positive
    words = [t for t in tokens if _is_word(t) and len(t) >= 2]
    caps = sum(1 for t in words if t.isupper()) / len(words) if words else 0.0
    positive_emoji = sum(1 for t in tokens if t in POSITIVE_EMOJI or _POSITIVE_EMOTICON.match(t))
    negative_emoji = sum(1 for t in tokens if t in NEGATIVE_EMOJI or _NEGATIVE_EMOTICON.match(t))
    return HandFeatures(
        positive=math.log1p(positive),
        negative=math.log1p(negative),
        sarcasm=float(sarcasm),
        caps=caps if len(words) >= 1 and caps >= 0.5 else 0.0,
        exclamations=min(max((len(m) for m in re.findall(r"!+", text)), default=0), 3) / 3,
        questions=float(bool(re.search(r"\?\s*[?!]|!\s*\?", text))),
        positive_emoji=math.log1p(positive_emoji),
        negative_emoji=math.log1p(negative_emoji),
        persistence=math.log1p(len(_PERSISTENCE.findall(folded))),
    )


# --- the model ----------------------------------------------------------------------------------

def _thresholds(values: Mapping[str, Any] | None, defaults: dict[str, float]) -> dict[str, float]:
    unknown = set(values or {}) - {NEGATIVE, POSITIVE}
    if unknown:
        raise ValueError(f"minimum confidences are set for {NEGATIVE} and {POSITIVE} only, not {sorted(unknown)}")
    return {**defaults, **{label: float(value) for label, value in (values or {}).items()}}


@dataclass
class SentimentConfig:
    """Hyper-parameters; the defaults are the values described in docs/sentiment.md.

    `min_confidence`: the probability a polar label must exceed to be given (else neutral).
    """

    c: float = 2.0
    hand_weight: float = 1.0
    min_confidence: dict[str, float] = field(default_factory=lambda: {NEGATIVE: 0.5, POSITIVE: 0.4})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SentimentConfig:
        defaults = cls()
        return cls(
            c=float(values.get("c", defaults.c)),
            hand_weight=float(values.get("hand_weight", defaults.hand_weight)),
            min_confidence=_thresholds(values.get("min_confidence"), defaults.min_confidence),
        )

    def as_dict(self) -> dict[str, Any]:
        return {"c": self.c, "hand_weight": self.hand_weight, "min_confidence": dict(self.min_confidence)}


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

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_char_analyzer_cache", None)  # rebuilt on first use after loading
        return state

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
        """Class probabilities per text, computed row by row (about 0.3 ms a message).

        Same numbers as `classifier.predict_proba` on the TF-IDF matrix, without scikit-learn's
        per-call validation and sparse-matrix overhead, which would cost several times more.
        """
        if not self.trained:
            raise RuntimeError("The sentiment model has not been trained")
        return [self._probabilities(text) for text in texts]

    def probabilities_reference(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """The same probabilities through scikit-learn's own `predict_proba` (slow, for checking)."""
        rows = self.classifier.predict_proba(self._matrix(list(texts), fit=False))
        classes = list(self.classifier.classes_)
        return [{label: float(row[classes.index(label)]) for label in LABELS} for row in rows]

    def _probabilities(self, text: str) -> dict[str, float]:
        assert self.lemmatizer is not None
        tokens = tokenize(text)
        words = word_features(tokens, self.lemmatizer)
        indices: list[int] = []
        values: list[float] = []
        offset = 0
        for vectorizer, analyze, item in ((self.words, _identity, words), (self.word_pairs, _bigrams, words),
                                          (self.chars, self._char_analyzer, text)):
            vocabulary = vectorizer.vocabulary_
            counts: dict[int, int] = {}
            for feature in analyze(item):
                column = vocabulary.get(feature)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            if counts:
                columns = list(counts)
                weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=float))) * vectorizer.idf_[columns]
                weights /= np.linalg.norm(weights)
                indices.extend(offset + column for column in columns)
                values.extend(weights.tolist())
            offset += len(vocabulary)
        hand = hand_features(text, tokens, self.lemmatizer).vector()
        indices.extend(range(offset, offset + len(hand)))
        values.extend(value * self.config.hand_weight for value in hand)
        coefficients = self.classifier.coef_[:, indices]
        scores = coefficients @ np.asarray(values) + self.classifier.intercept_
        exp = np.exp(scores - scores.max())
        probabilities = exp / exp.sum()
        return {str(label): float(p) for label, p in zip(self.classifier.classes_, probabilities, strict=True)}

    @property
    def _char_analyzer(self) -> Any:
        analyzer = self.__dict__.get("_char_analyzer_cache")
        if analyzer is None:
            analyzer = self.__dict__["_char_analyzer_cache"] = self.chars.build_analyzer()
        return analyzer

    def decide(self, probabilities: Mapping[str, float]) -> Sentiment:
        """The calibrated rule: a polar label only when it wins and clears its minimum confidence."""
        best = max(LABELS, key=lambda label: probabilities[label])
        if best != NEUTRAL and probabilities[best] <= self.config.min_confidence[best]:
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

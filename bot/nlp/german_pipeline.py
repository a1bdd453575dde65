"""Build the project's German spaCy pipeline (no pretrained German model can be downloaded here).

A blank German pipeline with spaCy's German tokenizer rules, customer numbers kept whole, and the
lookup lemmatizer from spacy-lookups-data, so that "gekündigt", "kündige", "kündigt" reach Rasa's
featurizers as the lemma "kündigen".
"""
from __future__ import annotations

import re
from pathlib import Path

import spacy
from spacy.language import Language

CUSTOMER_NUMBER_TOKEN = re.compile(r"^[Kk]-?\d{6}$")


def build_pipeline() -> Language:
    nlp = spacy.blank("de")
    default_match = nlp.tokenizer.token_match
    patterns = [CUSTOMER_NUMBER_TOKEN.pattern]
    if default_match is not None:
        patterns.append(default_match.__self__.pattern)
    # A compiled pattern (not a function), so that the tokenizer can be saved with the pipeline.
    nlp.tokenizer.token_match = re.compile("|".join(f"(?:{p})" for p in patterns)).match
    # German keeps "3." whole (ordinals); a customer number's full stop ends the sentence instead.
    suffixes = [r"(?<=[Kk]\d{6})\.", *nlp.Defaults.suffixes]
    nlp.tokenizer.suffix_search = spacy.util.compile_suffix_regex(suffixes).search
    lemmatizer = nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    from spacy.lookups import load_lookups

    lemmatizer.initialize(lookups=load_lookups(lang="de", tables=["lemma_lookup"]))
    return nlp


def save_pipeline(target: Path) -> Path:
    """Build and save the pipeline to `target` (a folder Rasa's SpacyNLP loads by path)."""
    nlp = build_pipeline()
    target.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(target)
    return target

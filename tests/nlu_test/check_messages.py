"""Sanity check for tests/nlu_test/messages.tsv (format, labels, counts, duplicates).

Run from the repository root:  python tests/nlu_test/check_messages.py
It only checks the file; it does not evaluate any model.
"""
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SENTIMENTS = {"negative", "neutral", "positive"}


def norm(text):
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(c for c in text if c.isalnum() or c.isspace()).split())


def main():
    intents = set(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"])
    lines = (HERE / "messages.tsv").read_text(encoding="utf-8").split("\n")
    errors = []
    if lines[0] != "text\tintent\tsentiment":
        errors.append("bad header: %r" % lines[0])
    if lines[-1] == "":
        lines = lines[:-1]
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        cols = line.split("\t")
        if len(cols) != 3:
            errors.append("line %d: %d columns" % (n, len(cols)))
            continue
        text, intent, sentiment = cols
        if not text.strip() or text != text.strip():
            errors.append("line %d: empty text or surrounding whitespace" % n)
        if intent not in intents:
            errors.append("line %d: unknown intent %r" % (n, intent))
        if sentiment not in SENTIMENTS:
            errors.append("line %d: unknown sentiment %r" % (n, sentiment))
        rows.append((text, intent, sentiment))
    exact = [t for t, c in Counter(r[0] for r in rows).items() if c > 1]
    loose = [t for t, c in Counter(norm(r[0]) for r in rows).items() if c > 1 and t]
    errors += ["duplicate: %r" % t for t in exact]
    errors += ["duplicate after normalising case/punctuation: %r" % t for t in loose if t not in exact]

    tags = {}
    tag_file = HERE / "message_tags.txt"
    if tag_file.exists():
        for line in tag_file.read_text(encoding="utf-8").splitlines()[1:]:
            text, tag = line.split("\t")
            tags[text] = set(tag.split(",")) - {"-"}
        missing = {r[0] for r in rows} ^ set(tags)
        errors += ["tag file and messages differ: %r" % t for t in sorted(missing)]

    print("messages:", len(rows))
    print("intents:")
    for k, v in sorted(Counter(r[1] for r in rows).items(), key=lambda kv: (-kv[1], kv[0])):
        print("  %-28s %d" % (k, v))
    print("  intents without messages:", sorted(intents - {r[1] for r in rows}) or "none")
    print("sentiment:", dict(sorted(Counter(r[2] for r in rows).items())))
    if tags:
        mixed = [r for r in rows if "mixed" in tags[r[0]]]
        near = [r for r in rows if "near_miss" in tags[r[0]]]
        print("mixed:", len(mixed), dict(Counter(r[1] for r in mixed).most_common()))
        print("near misses:", len(near), dict(Counter(r[1] for r in near).most_common()))
    if errors:
        print("\nERRORS:")
        print("\n".join(errors))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

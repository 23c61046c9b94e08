"""Look up ImageNet-1k classes by name, synonym, common word or index.

Pure lookups over the tables in :mod:`engine.imagenet_classes`; used by class dreams
(``dreamstream image IN OUT --target goldfish``, chat ``!dream banana``) and by
``dreamstream targets QUERY`` / chat ``!targets QUERY``.

Matching ignores case, spaces, hyphens, underscores, apostrophes and full stops, so
``"Great-White_Shark"``, ``"greatwhiteshark"`` and ``"great white shark"`` are the same.
A query resolves, in this order of precedence, as

1. a class index ``"0"`` .. ``"999"`` (also ``"#285"``) or a WordNet id (``"n01443537"``);
2. the first WordNet synonym or the simple common name of a class (``"tabby"``, ``"pig"``);
3. a common word from :data:`EXTRA_SYNONYMS` (``"dog"``, ``"cat"``, ``"coffee"``);
4. any other WordNet synonym (``"orca"``, ``"hippo"``);

and, failing those, the same after turning an English plural into its singular
(``"bananas"``, ``"butterflies"``). Names shared by two classes (``"crane"`` is a bird
and a machine) go to the lower index; the simple names tell them apart
(``"crane (bird)"``, ``"crane (machine)"``).

Every bad query, hostile ones included (empty, very long, control characters), raises
:class:`~engine.errors.TargetError` with a one-line message that quotes the query cut to
40 characters. The lookup tables are built on first use, not at import.
"""
from __future__ import annotations

import difflib
import functools
import operator
import re
import unicodedata
from dataclasses import dataclass

from engine.errors import TargetError
from engine.imagenet_classes import CLASSES, SIMPLE, WNIDS

__all__ = [
    "EXTRA_SYNONYMS",
    "MAX_QUERY_CHARS",
    "NUM_CLASSES",
    "class_names",
    "display_name",
    "find_class",
    "search",
]

NUM_CLASSES = len(CLASSES)
"""Number of ImageNet-1k classes (1000)."""

MAX_QUERY_CHARS = 100
"""Longest query accepted; longer ones raise :class:`TargetError` unread."""

_QUOTE_CHARS = 40
_FUZZY_MAX_KEY = 48  # longer keys get no close spellings (the longest name key has 29 characters)
_FUZZY_CUTOFF = 0.7

EXTRA_SYNONYMS: dict[str, int] = {
    "dog": 207,  # golden retriever
    "puppy": 207,  # golden retriever
    "retriever": 207,  # golden retriever
    "labrador": 208,  # Labrador retriever
    "corgi": 263,  # Pembroke
    "poodle": 267,  # standard poodle
    "cat": 281,  # tabby
    "kitten": 281,  # tabby
    "fish": 1,  # goldfish
    "bird": 88,  # macaw
    "parrot": 88,  # macaw
    "eagle": 22,  # bald eagle
    "owl": 24,  # great grey owl
    "penguin": 145,  # king penguin
    "chicken": 8,  # hen
    "rooster": 7,  # cock
    "shark": 2,  # great white shark
    "whale": 147,  # grey whale
    "seal": 150,  # sea lion
    "car": 817,  # sports car
    "truck": 717,  # pickup
    "bus": 779,  # school bus
    "train": 820,  # steam locomotive
    "airplane": 404,  # airliner
    "boat": 814,  # speedboat
    "ship": 510,  # container ship
    "bike": 671,  # mountain bike
    "bicycle": 671,  # mountain bike
    "motorbike": 665,  # moped
    "motorcycle": 665,  # moped
    "butterfly": 323,  # monarch
    "beetle": 301,  # ladybug
    "bug": 301,  # ladybug
    "spider": 76,  # tarantula
    "snake": 63,  # Indian cobra
    "frog": 31,  # tree frog
    "turtle": 33,  # loggerhead
    "tortoise": 37,  # box turtle
    "lizard": 46,  # green lizard
    "dinosaur": 51,  # triceratops
    "crocodile": 49,  # African crocodile
    "alligator": 50,  # American alligator
    "crab": 118,  # Dungeness crab
    "lobster": 122,  # American lobster
    "flower": 985,  # daisy
    "burger": 933,  # cheeseburger
    "hamburger": 933,  # cheeseburger
    "coffee": 967,  # espresso
    "bread": 930,  # French loaf
    "wine": 966,  # red wine
    "beer": 441,  # beer glass
    "apple": 948,  # Granny Smith
    "bear": 294,  # brown bear
    "panda": 388,  # giant panda
    "monkey": 378,  # capuchin
    "ape": 367,  # chimpanzee
    "horse": 339,  # sorrel
    "cow": 345,  # ox
    "sheep": 348,  # ram
    "goat": 350,  # ibex
    "wolf": 269,  # timber wolf
    "fox": 277,  # red fox
    "rabbit": 330,  # wood rabbit
    "bunny": 330,  # wood rabbit
    "squirrel": 335,  # fox squirrel
    "elephant": 386,  # African elephant
    "camel": 354,  # Arabian camel
    "kangaroo": 104,  # wallaby
    "guitar": 402,  # acoustic guitar
    "piano": 579,  # grand piano
    "phone": 487,  # cellular telephone
    "computer": 527,  # desktop computer
    "tv": 851,  # television
    "clock": 409,  # analog clock
    "watch": 531,  # digital watch
    "mountain": 970,  # alp
    "beach": 978,  # seashore
    "sea": 978,  # seashore
}
"""Common words people type in chat that are not ImageNet names, mapped to a class index.

A real class name always wins over an entry here (``"mouse"`` stays the computer mouse).
"""

_NUMBER = re.compile(r"#?[+-]?[0-9]+")
_DROPPED = str.maketrans("", "", "'\u2019.")

# Precedence ranks of the names a key can come from; lower wins.
_RANK_MAIN, _RANK_EXTRA, _RANK_SYNONYM = 0, 1, 2

# Search tiers; lower sorts first.
_TIER_EXACT, _TIER_NAME, _TIER_WORD, _TIER_PREFIX, _TIER_WORD_PREFIX, _TIER_SUBSTRING = range(6)


def _key(text: str) -> str:
    """Compact comparison key: casefolded letters and digits only (``"St. Bernard"`` -> ``"stbernard"``)."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_DROPPED)
    return "".join(ch for ch in text if ch.isalnum())


def _words(text: str) -> str:
    """Word form padded with spaces: ``"Great-White_Shark"`` -> ``" great white shark "``."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_DROPPED)
    return " " + " ".join("".join(ch if ch.isalnum() else " " for ch in text).split()) + " "


def _singulars(key: str) -> list[str]:
    """Candidate singulars of a compact key, most specific rule first."""
    if len(key) <= 3:
        return []
    out = []
    if key.endswith("ies"):
        out.append(key[:-3] + "y")
    if key.endswith("ves"):
        out.append(key[:-3] + "f")
    if key.endswith("s") and not key.endswith("ss"):
        out.append(key[:-1])
    if key.endswith("es"):
        out.append(key[:-2])
    return out


@dataclass(frozen=True)
class _Tables:
    """Lookup tables built once from the class lists."""

    exact: dict[str, int]  # compact key -> class index, after precedence
    keys: tuple[tuple[str, ...], ...]  # per class: compact keys of all its names and extra words
    words: tuple[tuple[str, ...], ...]  # per class: padded word forms, parallel to ``keys``
    key_classes: dict[str, tuple[int, ...]]  # compact key -> every class having that name
    by_length: dict[int, tuple[str, ...]]  # key length -> the keys of ``key_classes`` that long


@functools.cache
def _tables() -> _Tables:
    best: dict[str, tuple[int, int]] = {}

    def offer(name: str, rank: int, index: int) -> None:
        k = _key(name)
        if k and (k not in best or (rank, index) < best[k]):
            best[k] = (rank, index)

    names_per_class: list[list[str]] = [[] for _ in range(NUM_CLASSES)]
    for index, joined in enumerate(CLASSES):
        synonyms = joined.split(", ")
        offer(synonyms[0], _RANK_MAIN, index)
        offer(SIMPLE[index], _RANK_MAIN, index)
        for synonym in synonyms[1:]:
            offer(synonym, _RANK_SYNONYM, index)
        names_per_class[index] += [*synonyms, SIMPLE[index]]
    for word, index in EXTRA_SYNONYMS.items():
        offer(word, _RANK_EXTRA, index)
        names_per_class[index].append(word)
    exact = {k: index for k, (_, index) in best.items()}
    exact.update({_key(wnid): index for index, wnid in enumerate(WNIDS)})

    keys, words = [], []
    key_classes: dict[str, list[int]] = {}
    for index, names in enumerate(names_per_class):
        unique = list(dict.fromkeys(names))
        keys.append(tuple(_key(n) for n in unique))
        words.append(tuple(_words(n) for n in unique))
        for k in dict.fromkeys(keys[-1]):
            key_classes.setdefault(k, []).append(index)
    by_length: dict[int, list[str]] = {}
    for k in key_classes:
        by_length.setdefault(len(k), []).append(k)
    return _Tables(
        exact=exact,
        keys=tuple(keys),
        words=tuple(words),
        key_classes={k: tuple(v) for k, v in key_classes.items()},
        by_length={n: tuple(v) for n, v in by_length.items()},
    )


def _quote(text: str) -> str:
    """The query for an error message: cut to 40 characters, escaped onto one line."""
    if len(text) > _QUOTE_CHARS:
        text = text[: _QUOTE_CHARS - 3] + "..."
    return repr(text)


def _clean(query: object) -> str:
    """Validate a query and return it NFKC-normalised and stripped (may be empty)."""
    if not isinstance(query, str):
        raise TargetError(f"an ImageNet class must be given as text, not {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise TargetError(
            f"class name {_quote(query)} is too long ({len(query)} characters; at most {MAX_QUERY_CHARS})"
        )
    text = unicodedata.normalize("NFKC", query).strip()
    if not text.isprintable():
        raise TargetError(f"class name {_quote(query)} contains control or invisible characters; use a plain name")
    return text


def _check_index(index: int) -> int:
    if isinstance(index, bool):
        raise TargetError(f"class index must be an integer 0-{NUM_CLASSES - 1}, not {index!r}")
    try:
        i = operator.index(index)
    except TypeError:
        raise TargetError(
            f"class index must be an integer 0-{NUM_CLASSES - 1}, not {type(index).__name__}"
        ) from None
    if not 0 <= i < NUM_CLASSES:
        raise TargetError(f"class index {i} is out of range; allowed 0-{NUM_CLASSES - 1}")
    return i


def class_names(index: int) -> list[str]:
    """All WordNet synonyms of class ``index``: ``class_names(1) == ["goldfish", "Carassius auratus"]``."""
    return CLASSES[_check_index(index)].split(", ")


def display_name(index: int) -> str:
    """Short common name of class ``index``: ``display_name(285) == "Egyptian Mau"``."""
    return SIMPLE[_check_index(index)]


def _exact(key: str) -> int | None:
    """Class for a compact key, trying singular forms if the key itself is unknown."""
    exact = _tables().exact
    if key in exact:
        return exact[key]
    for singular in _singulars(key):
        if singular in exact:
            return exact[singular]
    return None


def find_class(query: str) -> int:
    """Class index for a name, synonym, common word or index string; see the module docstring.

    Raises :class:`TargetError` naming the query, with up to 3 "did you mean" suggestions.
    """
    text = _clean(query)
    if not text:
        raise TargetError("empty class name; give an ImageNet class name, synonym or index 0-999")
    if _NUMBER.fullmatch(text):
        number = int(text.lstrip("#"))
        if 0 <= number < NUM_CLASSES:
            return number
        raise TargetError(f"class index {_quote(text)} is out of range; allowed 0-{NUM_CLASSES - 1}")
    key = _key(text)
    index = _exact(key) if key else None
    if index is not None:
        return index
    suggestions = [display_name(i) for i, _ in _rank(key, _words(text), 3)] if key else []
    hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
    raise TargetError(
        f"unknown ImageNet class {_quote(text)}{hint}; give a class name, synonym or index 0-999"
    )


def _fuzzy(key: str, limit: int) -> list[int]:
    """Classes with a name spelled close to ``key`` (difflib ratio >= 0.7), closest first."""
    t = _tables()
    n = len(key)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(key)
    scored: dict[int, float] = {}
    for length, candidates in t.by_length.items():
        if 2 * min(n, length) < _FUZZY_CUTOFF * (n + length):
            continue  # even a perfect overlap could not reach the cutoff
        for k in candidates:
            matcher.set_seq1(k)
            if matcher.quick_ratio() < _FUZZY_CUTOFF:
                continue
            ratio = matcher.ratio()
            if ratio >= _FUZZY_CUTOFF:
                for index in t.key_classes[k]:
                    scored[index] = max(ratio, scored.get(index, 0.0))
    return sorted(scored, key=lambda i: (-scored[i], i))[:limit]


@functools.lru_cache(maxsize=1024)
def _rank(key: str, words: str, limit: int) -> tuple[tuple[int, str], ...]:
    """Best ``limit`` classes for a non-empty compact key and its padded word form.

    Direct matches (see :func:`search`) first; close spellings only when there are none.
    """
    t = _tables()
    found: dict[int, int] = {}  # class index -> best tier
    hit = _exact(key)
    if hit is not None:
        found[hit] = _TIER_EXACT
    for index in range(NUM_CLASSES):
        tier = found.get(index, _TIER_SUBSTRING + 1)
        for k, w in zip(t.keys[index], t.words[index]):
            if tier <= _TIER_NAME:
                break
            if k == key:
                tier = _TIER_NAME
            elif words in w:
                tier = min(tier, _TIER_WORD)
            elif k.startswith(key):
                tier = min(tier, _TIER_PREFIX)
            elif words[:-1] in w:
                tier = min(tier, _TIER_WORD_PREFIX)
            elif key in k:
                tier = min(tier, _TIER_SUBSTRING)
        if tier <= _TIER_SUBSTRING:
            found[index] = tier
    ranked = sorted(found, key=lambda i: (found[i], i))[:limit]
    if not ranked and len(key) <= _FUZZY_MAX_KEY:
        ranked = _fuzzy(key, limit)
    return tuple((i, SIMPLE[i]) for i in ranked)


def search(query: str, limit: int = 20) -> list[tuple[int, str]]:
    """Classes matching ``query``, best first, as ``(index, display name)`` pairs.

    Order: the class :func:`find_class` picks, other classes with that exact name, the
    query as whole words of a name, name prefix, word prefix, substring; ties by class
    index. Only when nothing matches that way, close spellings (difflib ratio at least
    0.7), closest first. An empty query lists the first ``limit`` classes; a class index
    lists that class. Hostile queries (too long, control characters) raise
    :class:`TargetError` as in :func:`find_class`.
    """
    text = _clean(query)
    if limit <= 0:
        return []
    if not text:
        return [(i, SIMPLE[i]) for i in range(min(limit, NUM_CLASSES))]
    if _NUMBER.fullmatch(text):
        number = int(text.lstrip("#"))
        return [(number, SIMPLE[number])][:limit] if 0 <= number < NUM_CLASSES else []
    key = _key(text)
    if not key:
        return []
    return list(_rank(key, _words(text), limit))

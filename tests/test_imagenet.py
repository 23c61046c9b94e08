"""ImageNet class tables and lookups: engine.imagenet_classes, engine.imagenet."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from engine import imagenet
from engine.errors import DreamError, TargetError
from engine.imagenet import EXTRA_SYNONYMS, class_names, display_name, find_class, search
from engine.imagenet_classes import CLASSES, SIMPLE, WNIDS

# --- tables ------------------------------------------------------------------------------


def test_tables_have_1000_entries_each():
    assert len(CLASSES) == len(SIMPLE) == len(WNIDS) == 1000
    assert imagenet.NUM_CLASSES == 1000


@pytest.mark.parametrize(
    ("index", "names", "simple", "wnid"),
    [
        (0, "tench, Tinca tinca", "tench", "n01440764"),
        (1, "goldfish, Carassius auratus", "goldfish", "n01443537"),
        (285, "Egyptian cat", "Egyptian Mau", "n02124075"),
        (954, "banana", "banana", "n07753592"),
        (967, "espresso", "espresso", "n07920052"),
        (999, "toilet tissue, toilet paper, bathroom tissue", "toilet paper", "n15075141"),
    ],
)
def test_spot_checks(index, names, simple, wnid):
    assert CLASSES[index] == names
    assert SIMPLE[index] == simple
    assert WNIDS[index] == wnid


@pytest.mark.parametrize(
    ("index", "names", "simple"),
    [  # the comparison table in imagenet-simple-labels' README, an independent source
        (87, "African grey, African gray, Psittacus erithacus", "grey parrot"),
        (97, "drake", "duck"),
        (134, "crane", "crane (bird)"),
        (156, "Blenheim spaniel", "King Charles Spaniel"),
        (383, "Madagascar cat, ring-tailed lemur, Lemur catta", "ring-tailed lemur"),
        (439, "bearskin, busby, shako", "military cap"),
        (517, "crane", "crane (machine)"),
        (628, "liner, ocean liner", "ocean liner"),
        (667, "mortarboard", "square academic cap"),
        (699, "panpipe, pandean pipe, syrinx", "pan flute"),
        (913, "wreck", "shipwreck"),
        (924, "guacamole", "guacamole"),
        (930, "French loaf", "baguette"),
    ],
)
def test_alignment_with_published_table(index, names, simple):
    assert (CLASSES[index], SIMPLE[index]) == (names, simple)


def test_wnids_unique_and_sorted():
    """The standard index order is the WordNet ids sorted; a shifted row would break it."""
    assert list(WNIDS) == sorted(WNIDS)
    assert len(set(WNIDS)) == 1000
    assert all(len(w) == 9 and w[0] == "n" and w[1:].isdigit() for w in WNIDS)


def test_entries_are_clean():
    for entry in (*CLASSES, *SIMPLE):
        assert entry and entry == entry.strip() and entry.isprintable()
    for entry in CLASSES:
        assert all(name and name == name.strip() for name in entry.split(", "))
    for name in SIMPLE:  # chat parses "did you mean a, b?" back out of error messages
        assert "," not in name and "?" not in name


def test_tables_are_not_built_at_import():
    code = (
        "import engine.imagenet as m, sys; "
        "sys.exit(0 if m._tables.cache_info().currsize == 0 else 1)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_module_is_what_its_script_writes(tmp_path):
    """scripts/build_imagenet_classes.py, given the two public lists (here rebuilt from the tables, in their formats:
    ``WNID synonyms`` lines, a JSON list), writes engine/imagenet_classes.py byte for byte; a short list writes
    nothing and says so in one line."""
    root = Path(__file__).resolve().parents[1]
    synsets, labels, out = tmp_path / "LOC_synset_mapping.txt", tmp_path / "simple.json", tmp_path / "classes.py"
    synsets.write_text("".join(f"{wnid} {names}\n" for wnid, names in zip(WNIDS, CLASSES)))
    labels.write_text("[" + ",\n".join(json.dumps(name) for name in SIMPLE) + "]\n")
    script = [sys.executable, str(root / "scripts" / "build_imagenet_classes.py")]
    run = subprocess.run([*script, str(synsets), str(labels), "--out", str(out)], capture_output=True, text=True,
                         check=False, timeout=60)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == (root / "engine" / "imagenet_classes.py").read_bytes()
    synsets.write_text("".join(synsets.read_text().splitlines(keepends=True)[:999]))
    out.unlink()
    run = subprocess.run([*script, str(synsets), str(labels), "--out", str(out)], capture_output=True, text=True,
                         check=False, timeout=60)
    assert run.returncode == 1 and run.stderr == "build_imagenet_classes: error: 999 synset lines; expected 1000\n"
    assert not out.exists()


# --- class_names / display_name ----------------------------------------------------------


def test_class_names_and_display_name():
    assert class_names(1) == ["goldfish", "Carassius auratus"]
    assert class_names(954) == ["banana"]
    assert display_name(285) == "Egyptian Mau"
    assert display_name(999) == "toilet paper"


@pytest.mark.parametrize("bad", [-1, 1000, 10**12, True, 1.0, "1", None])
def test_bad_index_raises_target_error(bad):
    with pytest.raises(TargetError):
        class_names(bad)
    with pytest.raises(TargetError):
        display_name(bad)


# --- find_class ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("tench", 0),
        ("goldfish", 1),
        ("Carassius auratus", 1),
        ("great white shark", 2),
        ("man-eater", 2),
        ("Egyptian cat", 285),
        ("Egyptian Mau", 285),
        ("banana", 954),
        ("espresso", 967),
        ("toilet tissue", 999),
        ("toilet paper", 999),
        ("bathroom tissue", 999),
        ("pizza", 963),
        ("pizza pie", 963),
        ("jellyfish", 107),
        ("mushroom", 947),
        ("orca", 148),
        ("hippo", 344),
        ("pig", 341),
        ("husky", 248),
        ("jack-o'-lantern", 607),
        ("crane (machine)", 517),
        ("n01443537", 1),
    ],
)
def test_find_exact_names_and_synonyms(query, index):
    assert find_class(query) == index


@pytest.mark.parametrize(
    "query",
    ["Goldfish", "GOLDFISH", "  goldfish  ", "gold fish", "gold-fish", "gold_fish", "goldfish\n"],
)
def test_find_ignores_case_space_hyphen_underscore(query):
    assert find_class(query) == 1


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("Great-White_Shark", 2),
        ("greatwhiteshark", 2),
        ("st bernard", 247),
        ("St. Bernard", 247),
        ("saint bernard", 247),
        ("JACK O LANTERN", 607),
        ("N01440764", 0),
    ],
)
def test_find_normalises_punctuation(query, index):
    assert find_class(query) == index


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("bananas", 954),
        ("Bananas", 954),
        ("goldfishes", 1),
        ("butterflies", 323),
        ("strawberries", 949),
        ("wolves", 269),
        ("foxes", 277),
        ("dogs", 207),
        ("cats", 281),
        ("Golden Retrievers", 207),
        ("pizzas", 963),
    ],
)
def test_find_plurals(query, index):
    assert find_class(query) == index


@pytest.mark.parametrize(
    ("query", "index"),
    [("0", 0), ("1", 1), ("285", 285), ("999", 999), (" 954 ", 954), ("#967", 967), ("007", 7)],
)
def test_find_numeric_strings(query, index):
    assert find_class(query) == index


@pytest.mark.parametrize("query", ["1000", "-1", "99999999999999999999"])
def test_find_numeric_out_of_range(query):
    with pytest.raises(TargetError, match="0-999"):
        find_class(query)


@pytest.mark.parametrize(("word", "index"), sorted(EXTRA_SYNONYMS.items()))
def test_every_extra_synonym_resolves(word, index):
    assert 0 <= index < 1000
    assert find_class(word) == index
    assert find_class(word.upper()) == index


def test_extra_synonyms_cover_the_common_chat_words():
    expected = {
        "dog": "golden retriever",
        "cat": "tabby",
        "fish": "goldfish",
        "car": "sports car",
        "butterfly": "monarch",
        "owl": "great grey owl",
        "shark": "great white shark",
        "flower": "daisy",
        "burger": "cheeseburger",
        "coffee": "espresso",
        "bear": "brown bear",
        "horse": "sorrel",
        "panda": "giant panda",
    }
    for word, primary in expected.items():
        assert class_names(find_class(word))[0] == primary, word
    assert 40 <= len(EXTRA_SYNONYMS) <= 80
    for word in ("bird", "snake", "spider", "frog", "monkey", "mushroom", "jellyfish", "pizza"):
        find_class(word)


def test_real_names_win_over_extra_words_and_other_synonyms():
    assert find_class("mouse") == 673  # the computer mouse is a class; no animal mouse exists
    assert find_class("plane") == 726  # carpenter's plane; "airplane" is the airliner
    assert find_class("airplane") == 404
    assert find_class("crane") == 134  # two classes named crane: the lower index (the bird)
    assert find_class("grass snake") == 55  # synonym of 55 and 57: the lower index


def test_typo_suggests_the_intended_class():
    with pytest.raises(TargetError) as info:
        find_class("goldfsh")
    message = str(info.value)
    assert "'goldfsh'" in message
    assert "did you mean goldfish" in message
    assert "\n" not in message


def test_unknown_word_suggests_substring_matches():
    with pytest.raises(TargetError) as info:
        find_class("terrier")
    message = str(info.value)
    suggestions = message.split("did you mean ", 1)[1].split("?")[0].split(", ")
    assert 1 <= len(suggestions) <= 3
    assert all("terrier" in (name + " " + " ".join(class_names(find_class(name)))).lower()
               for name in suggestions)


def test_unknown_without_suggestions_says_what_is_allowed():
    with pytest.raises(TargetError) as info:
        find_class("qqqqzzzz")
    assert "did you mean" not in str(info.value)
    assert "index 0-999" in str(info.value)


HOSTILE = [
    "",
    "   ",
    "x" * 10_000,
    "\x00",
    "gold\x00fish",
    "goldfish\x1b[31m",
    "<script>alert(1)</script>",
    "<script>",
    "\u202egoldfish",
    "\ud800",
    "🐟🐟🐟",
    "金魚",
    "'; DROP TABLE classes; --",
    "${jndi:ldap://x}",
    "%s%s%s%n",
    "\\",
    "*",
    ".*",
    "[[[",
    "a\nb",
    "\t",
    "ﷺ" * 90,
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_raises_target_error_with_short_message(query):
    with pytest.raises(TargetError) as info:
        find_class(query)
    message = str(info.value)
    assert "\n" not in message and "\x00" not in message
    assert len(message) < 250
    message.encode("utf-8")  # no lone surrogates leak into the message


@pytest.mark.parametrize("query", [None, 1, b"goldfish", ["goldfish"]])
def test_non_text_raises_target_error(query):
    with pytest.raises(TargetError):
        find_class(query)


def test_long_query_is_quoted_truncated():
    with pytest.raises(TargetError) as info:
        find_class("y" * 10_000)
    message = str(info.value)
    assert "yyyy" in message and "y" * 41 not in message


def test_target_error_is_a_dream_error():
    with pytest.raises(DreamError):
        find_class("no such thing at all")


def test_random_fuzz_never_raises_anything_but_target_error():
    rng = random.Random(1234)
    alphabet = "abcdefghijklmnopqrstuvwxyz -_'.#0123456789<>&;\x00\n\t🐟é金"
    for _ in range(300):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        try:
            index = find_class(query)
        except TargetError as error:
            assert "\n" not in str(error) and len(str(error)) < 250
        else:
            assert 0 <= index < 1000
        for index, name in search(query, 5) if query.isprintable() else []:
            assert SIMPLE[index] == name


# --- search ---------------------------------------------------------------------------------


def test_search_empty_lists_first_classes():
    assert search("") == [(i, SIMPLE[i]) for i in range(20)]
    assert search("   ", limit=3) == [(0, "tench"), (1, "goldfish"), (2, "great white shark")]
    assert len(search("", limit=5000)) == 1000


def test_search_limit():
    assert search("cat", limit=0) == []
    assert len(search("cat", limit=4)) == 4
    assert len(search("a", limit=20)) == 20


def test_search_exact_match_comes_first():
    assert search("goldfish")[0] == (1, "goldfish")
    assert search("dog")[0][0] == 207  # the extra word's class
    assert search("panda")[:2] == [(388, "giant panda"), (387, "red panda")]
    assert search("bananas")[0] == (954, "banana")
    assert search("285") == [(285, "Egyptian Mau")]


def test_search_whole_words_before_prefixes_before_substrings():
    found = [index for index, _ in search("cat", limit=30)]
    assert found[0] == 281  # "cat" -> tabby
    whole_word = [282, 283, 284, 285]  # tiger cat, Persian cat, Siamese cat, Egyptian cat
    prefix = [found.index(484)]  # catamaran
    assert max(found.index(i) for i in whole_word) < min(prefix)


def test_search_shark_lists_the_sharks():
    found = [index for index, _ in search("shark")]
    assert found[:3] == [2, 3, 4]


def test_search_typo_falls_back_to_close_spellings():
    assert search("goldfsh")[0] == (1, "goldfish")
    assert search("zebar")[0] == (340, "zebra")
    assert search("qqqqzzzz") == []


def test_search_returns_display_names_and_no_duplicates():
    results = search("terrier", limit=50)
    assert len(results) == len({index for index, _ in results}) > 10
    assert all(SIMPLE[index] == name for index, name in results)


@pytest.mark.parametrize("query", ["x" * 10_000, "\x00", "gold\x1bfish"])
def test_search_hostile_raises_target_error(query):
    with pytest.raises(TargetError):
        search(query)


@pytest.mark.parametrize("query", ["<>", "!!!", "🐟"])
def test_search_without_letters_finds_nothing(query):
    assert search(query) == []

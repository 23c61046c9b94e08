"""Write ``config/default.yaml`` and the README's settings table from the settings' fields.

    .venv/bin/python scripts/build_settings.py          # rewrite both
    .venv/bin/python scripts/build_settings.py --check  # exit 1 if either is not what the fields say

Each setting's default, range and help live on its dataclass field (:func:`engine.fields.setting`);
``tests/test_settings_source.py`` fails when the files and the fields disagree.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stream.settings.document import default_yaml, settings_table  # noqa: E402

DEFAULTS = ROOT / "config" / "default.yaml"
README = ROOT / "README.md"
BEGIN = "<!-- settings table: written by scripts/build_settings.py from the settings' fields -->"
END = "<!-- end of the settings table -->"


def readme_with_table(readme: str) -> str:
    """``readme`` with the text between :data:`BEGIN` and :data:`END` replaced by the settings table."""
    head, found, rest = readme.partition(BEGIN)
    if not found or END not in rest:
        raise SystemExit(f"README.md has no {BEGIN!r} ... {END!r} block")
    return head + BEGIN + "\n\n" + settings_table() + "\n" + END + rest.partition(END)[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check; exit 1 if a file differs")
    args = ap.parse_args(argv)
    wanted = {DEFAULTS: default_yaml(), README: readme_with_table(README.read_text())}
    stale = [path for path, text in wanted.items() if path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from the settings' fields: run scripts/build_settings.py")
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Prints template.yaml with some parameters' defaults replaced (KEY=VALUE arguments), so the linters,
which check one parameter set (the defaults), also check another: the global tables' layout."""

from __future__ import annotations

import re
import sys
from pathlib import Path


def with_defaults(text: str, overrides: dict[str, str]) -> str:
    for name, value in overrides.items():
        pattern = rf"(\n  {re.escape(name)}:\n    Type: \w+\n    Default: )[^\n]*"
        text, count = re.subn(pattern, lambda found: found[1] + f'"{value}"', text, count=1)
        if count != 1:
            raise SystemExit(f"no parameter {name} with a default in the template")
    return text


if __name__ == "__main__":
    template, *pairs = sys.argv[1:]
    print(with_defaults(Path(template).read_text(), dict(pair.split("=", 1) for pair in pairs)), end="")

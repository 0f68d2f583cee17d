"""Checks a `sam build` artifact: pydantic_core built for the runtime's Python and architecture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from local import template

_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}


def _runtime() -> tuple[str, str]:
    function = template.function_globals()
    return str(function["Runtime"]), str(function["Architectures"][0])


def check(artifact: Path) -> list[str]:
    runtime, architecture = _runtime()
    version = runtime.removeprefix("python").replace(".", "")
    expected = f"_pydantic_core.cpython-{version}-{_ARCH[architecture]}-linux-gnu.so"
    problems = []
    if not list(artifact.glob(f"pydantic_core/{expected}")):
        found = [p.name for p in artifact.glob("pydantic_core/_pydantic_core*.so")]
        problems.append(f"expected pydantic_core/{expected}, found {found or 'nothing'}")
    if not (artifact / "payments_service" / "handlers" / "api.py").is_file():
        problems.append("the handler module payments_service/handlers/api.py is missing")
    foreign = [p for p in artifact.rglob("*.pyc") if f".cpython-{version}." not in p.name]
    if foreign:
        problems.append(f"bytecode for another Python, e.g. {foreign[0].relative_to(artifact)}")
    for unwanted in ("moto", "pytest", "boto3", "botocore", "local", "tests"):
        if (artifact / unwanted).exists():
            problems.append(f"{unwanted} must not be packaged")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("artifact", type=Path)
    args = parser.parse_args()
    problems = check(args.artifact)
    size = sum(f.stat().st_size for f in args.artifact.rglob("*") if f.is_file())
    for problem in problems:
        print(f"artifact check FAILED: {problem}", file=sys.stderr)
    bytecode = len(list(args.artifact.rglob("*.pyc")))
    if not problems:
        print(f"artifact check ok: {args.artifact} ({size / 1e6:.1f} MB unzipped, {bytecode} .pyc for the runtime)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make invoke EVENT=events/x.json`: `sam local invoke -e` without Docker; prints the response JSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from .runtime import LocalRuntime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "events", type=Path, nargs="+", help="API Gateway REST proxy events (events/*.json), invoked in order"
    )
    args = parser.parse_args(argv)
    try:
        events = [json.loads(path.read_text()) for path in args.events]
    except (OSError, ValueError) as error:
        print(f"cannot read event: {error}", file=sys.stderr)
        return 2
    out = sys.stdout
    # Like `sam local invoke`: function logs on stderr, the response alone on stdout.
    # One embedded DynamoDB for all events, so create then replay shows the replay.
    with contextlib.redirect_stdout(sys.stderr), LocalRuntime() as runtime:
        for event in events:
            response = runtime.invoke(event)
            print(json.dumps(response, indent=2, default=list), file=out, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

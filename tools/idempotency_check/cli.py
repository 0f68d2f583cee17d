"""`idempotency-check BASE_URL`: exit 0 when every check passes, 1 on any violation, 2 on usage/connection errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rich.console import Console

from . import checks, report, signing
from .battery import SOURCE_PRESETS, Battery, Sources
from .client import Client, TransportError
from .signing import LOCAL_MERCHANT, SigningError
from .target import InvalidTarget, Target

OK, VIOLATION, USAGE = 0, 1, 2
PROBE_PATH = "/payments/pay_000000000000000000000000"  # well-formed id nobody has: a harmless 404


def _positive(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    parse.__name__ = "int"  # argparse names the type in its "invalid int value" message
    return parse


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="idempotency-check",
        description="Check that an endpoint of the payments API charges exactly once per Idempotency-Key.",
    )
    p.add_argument("base_url", metavar="BASE_URL", help="e.g. http://127.0.0.1:3000 or a stage URL .../v1")
    p.add_argument("--concurrency", type=_positive(2), default=16, help="concurrent duplicates (default 16)")
    p.add_argument("--replays", type=_positive(1), default=3, help="sequential replays (default 3)")
    p.add_argument("--timeout", type=_seconds, default=30.0, help="seconds per request (default 30)")
    p.add_argument("--region", help="SigV4 region (default: from an execute-api host, else the AWS profile)")
    p.add_argument("--local", action="store_true", help="never sign; send the local merchant header")
    p.add_argument("--merchant", default=LOCAL_MERCHANT, help=f"local merchant header value (default {LOCAL_MERCHANT})")
    p.add_argument(
        "--sources",
        choices=sorted(SOURCE_PRESETS),
        default="sandbox",
        help="payment-method tokens for the processor behind the API (default sandbox; stripe for Stripe test mode)",
    )
    p.add_argument("--source", help="override: a source that succeeds")
    p.add_argument("--slow-source", help="override: a source that succeeds slowly (in-flight check)")
    p.add_argument("--declined-source", help="override: a source that is declined")
    p.add_argument("--json", action="store_true", help="print a JSON report instead of the table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (also off when stdout is no TTY)")
    return p


def _sources(args: argparse.Namespace) -> Sources:
    preset = SOURCE_PRESETS[args.sources]
    return Sources(
        args.source or preset.succeeds, args.slow_source or preset.slow, args.declined_source or preset.declined
    )


def _usage(message: str) -> int:
    print(f"idempotency-check: error: {message}", file=sys.stderr)
    return USAGE


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)  # argparse exits 2 on bad usage itself
    try:
        target = Target.parse(args.base_url)
        auth = signing.choose(target, local=args.local, merchant=args.merchant, region=args.region)
    except (InvalidTarget, SigningError) as error:
        return _usage(str(error))
    client = Client(target, auth, timeout=args.timeout)
    battery = Battery(client, concurrency=args.concurrency, replays=args.replays, sources=_sources(args))
    try:
        probe = client.request("GET", PROBE_PATH)
    except TransportError as error:
        return _usage(f"cannot reach {args.base_url}: {error}")
    if probe.status in (401, 403):
        return _usage(f"{args.base_url} refused us ({probe.status}, auth: {auth.description}); check credentials")
    total = sum(check.steps(battery) for check in checks.CHECKS)
    show_progress = not args.no_progress and sys.stdout.isatty() and sys.stderr.isatty()
    try:
        with report.progress(show_progress, total, sys.stderr) as bar:
            battery.progress = bar
            outcomes = checks.run(battery)
    except TransportError as error:  # only Unreachable escapes the checks: the server went away mid-run
        return _usage(f"lost {args.base_url} during the run: {error}")
    if args.json:
        print(report.as_json(outcomes, {"base_url": args.base_url, "auth": auth.description}))
    else:
        heading = f"idempotency-check {args.base_url}  (auth: {auth.description})"
        report.table(outcomes, heading, Console())
    return OK if all(o.passed for o in outcomes) else VIOLATION

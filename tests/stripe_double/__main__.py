"""`python -m tests.stripe_double [--port 12111]`, or `make stripe-double`: the double behind
`make run PAYMENT_PROCESSOR=stripe`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import TEST_KEY, StripeDouble


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the Stripe test double on 127.0.0.1 until Ctrl-C")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--slow-seconds", type=float, default=3.0, help="how long pm_card_slow takes (default 3)")
    parser.add_argument(
        "--deliver-to",
        metavar="URL",
        help="post each event, signed with the local secret, to this webhook (http://127.0.0.1:3000/webhooks/stripe)",
    )
    args = parser.parse_args(argv)
    if args.deliver_to and not args.deliver_to.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error("--deliver-to must be a local URL (127.0.0.1): the double signs with a local secret only")
    try:
        double = StripeDouble(port=args.port, slow_seconds=args.slow_seconds, deliver_to=args.deliver_to).start()
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{args.port} ({error.strerror}); try --port", file=sys.stderr)
        return 2
    print(f"Stripe test double on {double.url} (API key {TEST_KEY}). In another shell:", flush=True)
    print(f"  make run PAYMENT_PROCESSOR=stripe STRIPE_API_KEY={TEST_KEY} STRIPE_API_BASE={double.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        double.stop()
        print(
            f"stopped; {len(double.intents)} PaymentIntents and {len(double.refunds)} Refunds were created", flush=True
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

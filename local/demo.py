"""`make demo`: the committed events in order, in one execution environment on one embedded DynamoDB, each
with what it shows. The GET asks for the payment the first event created, so it finds it."""

from __future__ import annotations

import contextlib
import copy
import json
import sys
from typing import Any

from .environments import EnvironmentFailed
from .invoke import BadEvent, read_event
from .runtime import LocalRuntime
from .template import ROOT

STEPS = [
    ("create_payment", "a new Idempotency-Key: the charge is made, 201 with the payment"),
    ("replay_payment", "the same key and body again (a retry): the recorded answer, same bytes, marked replayed"),
    ("key_reused_different_body", "the same key with another amount: refused, nothing charged"),
    ("get_payment", "GET /payments/{id} of the payment the first step created"),
    ("decline", "a card that declines: 402, and the decline is recorded under its key"),
    ("decline", "the declined request retried: the same 402 replayed, no second attempt at the card"),
]


def _summary(response: dict[str, Any]) -> str:
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    body = json.loads(response.get("body") or "null")
    detail = body.get("id") or body.get("type", "") if isinstance(body, dict) else ""
    replayed = "  Idempotent-Replayed: true" if headers.get("Idempotent-Replayed") == "true" else ""
    return f"{response['statusCode']} {detail}{replayed}"


def main() -> int:
    try:
        events = {name: read_event(ROOT / "events" / f"{name}.json") for name, _ in STEPS}
    except BadEvent as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = sys.stdout
    bodies: list[str] = []
    with contextlib.redirect_stdout(sys.stderr), LocalRuntime(concurrency=1, queue_concurrency=1) as runtime:
        created: str | None = None
        for number, (name, what) in enumerate(STEPS, 1):
            function, template_event = events[name]
            event = copy.deepcopy(template_event)
            if name == "get_payment" and created:
                event["path"] = f"/payments/{created}"
                event["pathParameters"] = {"payment_id": created}
            try:
                invocation = runtime.invoke(event, function=function)
            except EnvironmentFailed as error:
                print(f"error: the function did not answer: {error}", file=sys.stderr)
                return 1
            assert invocation is not None
            response = invocation.response or {"statusCode": 502, "body": json.dumps(invocation.error)}
            if name == "create_payment" and response["statusCode"] == 201:
                created = json.loads(response["body"])["id"]
            bodies.append(response.get("body") or "")
            print(f"{number}. events/{name}.json: {what}", file=out)
            print(f"   -> {_summary(response)}", file=out, flush=True)
    same = "identical" if bodies[0] == bodies[1] else "DIFFERENT"
    print(f"Steps 1 and 2 answered {same} bodies: a retry is harmless. Function logs are on stderr.", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

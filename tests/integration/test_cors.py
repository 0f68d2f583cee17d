"""CORS on the function's own answers: only for the configured origin, exposing what clients act on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from tests.support import payment_event, unique, visa

# A fresh interpreter: the resolver's CORS is fixed at import, as in a Lambda cold start.
_CALL = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from payments_service.handlers import api
    from tests.support import FakeContext
    event = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(io.StringIO()):
        answer = api.lambda_handler(event, FakeContext())
    print(json.dumps(answer, default=dict))
    """
)


def _answer(origin_setting: str, request_origin: str | None, dynamodb: Any) -> dict[str, Any]:
    event = payment_event(unique("k"), visa(), headers={"Origin": request_origin} if request_origin else None)
    env = {**os.environ, "CORS_ALLOWED_ORIGIN": origin_setting}
    done = subprocess.run(
        [sys.executable, "-c", _CALL],
        input=json.dumps(event),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _headers(answer: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): ", ".join(v) for k, v in (answer.get("multiValueHeaders") or {}).items()}


def test_the_configured_origin_may_read_the_answer_and_its_replay_headers(dynamodb: Any) -> None:
    answer = _answer("https://app.example.com", "https://app.example.com", dynamodb)
    assert answer["statusCode"] == 201, answer
    headers = _headers(answer)
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    exposed = {h.strip() for h in headers["access-control-expose-headers"].split(",")}
    assert {"Idempotent-Replayed", "Location", "Retry-After"} <= exposed


def test_another_origin_or_cors_off_gets_no_cors_headers(dynamodb: Any) -> None:
    other = _headers(_answer("https://app.example.com", "https://evil.example.com", dynamodb))
    assert "access-control-allow-origin" not in other
    off = _headers(_answer("", "https://app.example.com", dynamodb))
    assert not [h for h in off if h.startswith("access-control-")]

"""With AWS credentials the checker signs every request (SigV4, execute-api), verified here independently.

Everything goes to a toy server on 127.0.0.1; the credentials are fake and come from the environment only,
so botocore never looks further (no profile files, instance metadata disabled).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable

import pytest

from tests.support import unique

from .conftest import scrub_aws
from .toy_server import Flaws, Received, running

Run = Callable[..., tuple[int, str, str]]
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def expected_signature(request: Received, secret: str) -> str:
    """SigV4 from the AWS documentation, computed from what actually arrived on the wire."""
    found = AUTHORIZATION.match(request.headers["authorization"])
    assert found, request.headers["authorization"]
    signed = found["signed"].split(";")
    canonical_headers = "".join(f"{name}:{' '.join(request.headers[name].split())}\n" for name in signed)
    path, _, query = request.path.partition("?")
    canonical = "\n".join(
        [request.method, path, query, canonical_headers, found["signed"], hashlib.sha256(request.body).hexdigest()]
    )
    scope = f"{found['date']}/{found['region']}/{found['service']}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", request.headers["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (found["date"], found["region"], found["service"], "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_every_request_of_a_run_is_signed_for_execute_api_and_the_signature_matches_the_wire(
    run_checker: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given fake credentials in the environment and a toy endpoint on 127.0.0.1
    scrub_aws(monkeypatch)
    access, secret, token = f"AKIA{unique('k').upper()}", unique("secret"), unique("token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    with running(Flaws(atomic=True, charge_seconds=0.01, slow_seconds=0.3)) as (url, toy):
        # When the whole battery runs without --local
        code, out, _ = run_checker(url, "--region", "eu-west-1", "--json", "--concurrency", "4")
    # Then it passed, said it signed, and every request carried a valid signature and no merchant header
    assert code == 0, out
    assert json.loads(out)["auth"] == "SigV4 (execute-api, eu-west-1)"
    assert len(toy.received) >= 15
    for request in toy.received:
        found = AUTHORIZATION.match(request.headers.get("authorization", ""))
        assert found, request
        assert (found["key"], found["region"], found["service"]) == (access, "eu-west-1", "execute-api")
        assert {"host", "x-amz-date"} <= set(found["signed"].split(";"))
        assert request.headers["host"] == url.removeprefix("http://")
        assert request.headers["x-amz-security-token"] == token
        assert "x-merchant-id" not in request.headers
        assert found["signature"] == expected_signature(request, secret), request.path


def test_a_tampered_body_no_longer_matches_the_signature(run_checker: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the verifier above: it must reject what a real API Gateway would reject.
    scrub_aws(monkeypatch)
    secret = unique("secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", f"AKIA{unique('k').upper()}")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    with running(Flaws(atomic=True, charge_seconds=0.01, slow_seconds=0.3)) as (url, toy):
        run_checker(url, "--region", "eu-west-1", "--json", "--concurrency", "2")
    post = next(r for r in toy.received if r.method == "POST" and r.body)
    assert expected_signature(post, secret) == AUTHORIZATION.match(post.headers["authorization"])["signature"]  # type: ignore[index]
    tampered = Received(post.method, post.path, post.headers, post.body.replace(b'"USD"', b'"EUR"'))
    assert expected_signature(tampered, secret) != AUTHORIZATION.match(post.headers["authorization"])["signature"]  # type: ignore[index]

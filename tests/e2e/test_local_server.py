"""`make run` over real HTTP: what a person with curl sees."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.e2e.conftest import LocalServer
from tests.support import unique, visa


def request(
    server: LocalServer, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def post(
    server: LocalServer, key: str | None, body: Any, merchant: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {} if key is None else {"Idempotency-Key": key}
    if merchant:
        headers["X-Merchant-Id"] = merchant
    return request(server, "POST", "/payments", body, headers)


def test_create_replay_and_get(local_server: LocalServer) -> None:
    key = unique("k")
    status, headers, body = post(local_server, key, visa(2500))
    assert status == 201 and headers["content-type"] == "application/json"
    payment = json.loads(body)
    assert headers["location"] == f"/payments/{payment['id']}"
    status2, headers2, body2 = post(local_server, key, visa(2500))
    assert (status2, body2) == (201, body) and headers2["idempotent-replayed"] == "true"
    status3, _, body3 = request(local_server, "GET", f"/payments/{payment['id']}")
    assert status3 == 200 and json.loads(body3) == payment


def test_mismatch_missing_key_and_unknown_routes_are_problems(local_server: LocalServer) -> None:
    key = unique("k")
    assert post(local_server, key, visa(1))[0] == 201
    cases = [
        (post(local_server, key, visa(2)), 422, "idempotency-key-reused"),
        (post(local_server, None, visa(1)), 400, "missing-idempotency-key"),
        # API Gateway (REST, IAM auth) answers unknown routes and methods alike: 403 Missing Authentication Token
        (request(local_server, "GET", "/nowhere"), 403, "missing-authentication-token"),
        (request(local_server, "DELETE", "/payments"), 403, "missing-authentication-token"),
    ]
    for (status, headers, body), expected, slug in cases:
        assert status == expected
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["type"] == f"urn:idempotent-payments:problem:{slug}"


def test_merchants_are_isolated_by_the_local_header(local_server: LocalServer) -> None:
    key = unique("k")
    a = post(local_server, key, visa(), merchant=f"arn:aws:iam::1:user/{unique('a')}")
    b = post(local_server, key, visa(), merchant=f"arn:aws:iam::1:user/{unique('b')}")
    assert a[0] == b[0] == 201 and "idempotent-replayed" not in b[1]
    assert json.loads(a[2])["id"] != json.loads(b[2])["id"]
    other = request(
        local_server, "GET", f"/payments/{json.loads(a[2])['id']}", headers={"X-Merchant-Id": "someone-else"}
    )
    assert other[0] == 404


def test_concurrent_duplicates_over_http_make_one_payment(local_server: LocalServer) -> None:
    key, merchant, threads = unique("k"), f"arn:aws:iam::1:user/{unique('m')}", 20
    # Four tok_slow requests at once hold four execution environments for 1 s: all four are started and warm.
    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(lambda _: post(local_server, unique("w"), visa(source="tok_slow"))[0], range(4))) == {201}
    start = threading.Barrier(threads)

    def send(_: int) -> tuple[int, dict[str, str], bytes]:
        start.wait(10)
        return post(local_server, key, visa(source="tok_slow"), merchant=merchant)

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(send, range(threads)))
    # One request charges (tok_slow holds the key 1 s); the others, in the other environments meanwhile, get
    # 409; any that waited for an environment until the first finished get its replay (as on Lambda at its
    # concurrency limit).
    created = [r for r in results if r[0] == 201 and "idempotent-replayed" not in r[1]]
    conflicts = [r for r in results if r[0] == 409]
    replays = [r for r in results if r[0] == 201 and r[1].get("idempotent-replayed") == "true"]
    assert len(created) == 1 and len(conflicts) >= 1, sorted(r[0] for r in results)
    assert len(created) + len(conflicts) + len(replays) == threads
    assert all(replay[2] == created[0][2] for replay in replays)
    assert all(int(r[1]["retry-after"]) >= 1 for r in conflicts)
    # After the first finishes, every retry replays the one payment
    replay = post(local_server, key, visa(source="tok_slow"), merchant=merchant)
    assert replay[0] == 201 and replay[2] == created[0][2] and replay[1]["idempotent-replayed"] == "true"


def test_a_burst_of_64_connections_is_served_not_reset(local_server: LocalServer) -> None:
    connections = 64
    start = threading.Barrier(connections)

    def send(_: int) -> int:
        start.wait(10)
        return post(local_server, str(uuid.uuid4()), visa())[0]

    with ThreadPoolExecutor(connections) as pool:
        assert list(pool.map(send, range(connections))) == [201] * connections


def test_one_log_line_per_request(local_server: LocalServer) -> None:
    key = unique("k")
    post(local_server, key, visa())
    post(local_server, key, visa())
    lines = local_server.log_text().splitlines()
    assert any(line.startswith("POST /payments 201 ") and line.endswith("ms") for line in lines)
    assert any(line.startswith("POST /payments 201 ") and line.endswith("replayed") for line in lines)


def test_path_parameters_arrive_url_decoded_as_api_gateway_sends_them(local_server: LocalServer) -> None:
    status, _, body = post(local_server, unique("k"), visa())
    assert status == 201
    payment_id = json.loads(body)["id"]
    encoded = payment_id.replace("_", "%5F")
    assert request(local_server, "GET", f"/payments/{encoded}")[0] == 200

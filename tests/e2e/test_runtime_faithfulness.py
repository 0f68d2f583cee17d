"""`make run` behaves like Lambda behind API Gateway: isolated environments, the gateway's own answers,
strict framing, state across restarts, a graceful stop."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from tests.e2e.conftest import LocalServer, start_server, stop_server
from tests.e2e.test_local_server import post, request
from tests.support import payments_of, unique, visa

PROBLEM = "urn:idempotent-payments:problem:"


def test_64_concurrent_merchants_each_get_their_own_answer_and_payment(local_server: LocalServer) -> None:
    # Given 64 merchants, each with its own amount and currency, sending at once
    clients = 64
    merchants = [f"arn:aws:iam::1:user/{unique(f'm{i}')}" for i in range(clients)]
    amounts = [10_000 + 37 * i for i in range(clients)]
    currencies = ["USD", "EUR", "GBP", "JPY"]
    start = threading.Barrier(clients)

    def send(i: int) -> tuple[int, dict[str, str], bytes]:
        start.wait(10)
        body = {"amount": amounts[i], "currency": currencies[i % 4], "source": "tok_visa"}
        return post(local_server, unique("k"), body, merchant=merchants[i])

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(send, range(clients)))
    # Then every answer is about its own request
    ids = []
    for i, (status, headers, body) in enumerate(results):
        payment = json.loads(body)
        assert status == 201, body
        assert (payment["amount"], payment["currency"]) == (amounts[i], currencies[i % 4])
        assert headers["location"] == f"/payments/{payment['id']}"
        ids.append(payment["id"])
        # and reads back for that merchant only
        got = request(local_server, "GET", f"/payments/{payment['id']}", headers={"X-Merchant-Id": merchants[i]})
        assert got[0] == 200 and json.loads(got[2]) == payment
    assert len(set(ids)) == clients
    # And the table holds exactly one payment per merchant, with that merchant's amount
    client = boto3.client("dynamodb", endpoint_url=local_server.dynamodb_endpoint, region_name="us-east-1")
    table = next(n for n in client.list_tables()["TableNames"] if n.endswith("PaymentsTable"))
    for i, merchant in enumerate(merchants):
        [item] = payments_of(client, table, merchant)
        assert item["payment_id"]["S"] == ids[i]
        assert int(item["amount"]["N"]) == amounts[i]


def test_environments_start_on_demand_up_to_the_concurrency_and_log_cold_starts(local_server: LocalServer) -> None:
    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(lambda _: post(local_server, unique("k"), visa())[0], range(32))) == {201}
    # The API's function only: the queue's function has environments of its own (its own pool and limit).
    log = [line for line in local_server.log_text().splitlines() if line.endswith(" Function: PaymentsFunction")]
    started = [line for line in log if line.startswith("INIT_START environment")]
    reports = [line for line in log if line.startswith("REPORT RequestId:")]
    assert 1 <= len(started) <= 4  # --concurrency defaults to 4
    cold = [line for line in reports if "Init Duration:" in line]
    assert len(cold) == len(started)  # one cold start per environment, like the Lambda console's REPORT
    assert len(reports) > len(cold)  # the rest ran warm in an environment already started


def _raw(server: LocalServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def _status_and_problem(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower(), head
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_malformed_framing_is_a_400_problem_never_a_dropped_connection(local_server: LocalServer) -> None:
    start = b"POST /payments HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
    cases = {
        "superscript length": start + "Content-Length: ²\r\n\r\n{}".encode(),
        "negative length": start + b"Content-Length: -1\r\n\r\n{}",
        "two lengths": start + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "length and chunked": start + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "chunk size not hex": start + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "chunk without CRLF": start + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
        "unknown encoding": start + b"Transfer-Encoding: gzip\r\n\r\n",
        "short body": start + b"Content-Length: 50\r\n\r\n{}",
        "garbage request line": b"NOT HTTP\r\n\r\n",
    }
    for name, data in cases.items():
        status, problem = _status_and_problem(_raw(local_server, data))
        # Rendered from the template's DEFAULT_4XX, which (covering several statuses) states none.
        assert status == 400 and problem.get("status", 400) == 400, name
        assert str(problem["type"]).startswith(PROBLEM) and problem["detail"], name


def test_a_keep_alive_connection_serves_request_after_request(local_server: LocalServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", local_server.port, timeout=30)
    try:
        local_ports = set()
        for _ in range(5):
            body = json.dumps(visa())
            connection.request(
                "POST", "/payments", body, {"Content-Type": "application/json", "Idempotency-Key": unique("k")}
            )
            response = connection.getresponse()
            assert response.status == 201 and json.loads(response.read())["amount"] == 1000
            assert connection.sock is not None
            local_ports.add(connection.sock.getsockname()[1])
        assert len(local_ports) == 1  # one connection throughout
    finally:
        connection.close()


def test_state_survives_a_stop_and_a_crash_when_a_state_file_is_given(tmp_path: Path) -> None:
    state, log = tmp_path / "state.jsonl", tmp_path / "server.log"
    key, merchant = unique("k"), f"arn:aws:iam::1:user/{unique('m')}"
    server = start_server(log, "--state", str(state))
    try:
        assert f"state: kept in {state}" in server.log_text()
        first = post(server, key, visa(4321), merchant=merchant)
        assert first[0] == 201
    finally:
        stop_server(server.process)  # graceful: SIGTERM
    server = start_server(log, "--state", str(state))
    try:
        again = post(server, key, visa(4321), merchant=merchant)
        assert (again[0], again[2]) == (201, first[2]) and again[1]["idempotent-replayed"] == "true"
        assert post(server, key, visa(9999), merchant=merchant)[0] == 422
        second = post(server, unique("k"), visa(55), merchant=merchant)
        assert second[0] == 201
    finally:
        stop_server(server.process, signal.SIGKILL)  # a crash: nothing saved at exit
    server = start_server(log, "--state", str(state))
    try:
        payment_id = json.loads(second[2])["id"]
        got = request(server, "GET", f"/payments/{payment_id}", headers={"X-Merchant-Id": merchant})
        assert got[0] == 200 and json.loads(got[2])["amount"] == 55
    finally:
        stop_server(server.process)


def test_without_a_state_file_the_banner_says_state_is_in_memory_only(local_server: LocalServer) -> None:
    assert "state: in memory only" in local_server.log_text()


def test_sigterm_lets_the_request_in_flight_finish_then_exits_promptly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server.log", "--slow-seconds", "2")
    try:
        answers: list[tuple[int, dict[str, str], bytes]] = []
        body = {"amount": 700, "currency": "EUR", "source": "tok_slow"}
        sender = threading.Thread(target=lambda: answers.append(post(server, str(uuid.uuid4()), body)))
        sender.start()
        time.sleep(0.8)  # the request is in the function (tok_slow takes 2 s)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with socket.socket() as probe:  # no new connections once stopping
            assert probe.connect_ex(("127.0.0.1", server.port)) != 0
        sender.join(30)
        assert server.process.wait(30) == 0
        assert time.monotonic() - signalled < 10
        [(status, _, answer)] = answers
        assert status == 201 and json.loads(answer)["amount"] == 700
        assert "stopped" in server.log_text() and "cut short" not in server.log_text()
    finally:
        stop_server(server.process, signal.SIGKILL)

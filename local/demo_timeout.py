"""`make demo-timeout`: "it timed out: did it go through?", shown step by step.

A local server, a fault proxy in front of it that lets the first request through, lets the server charge,
and drops the answer; the client (payments_client) retries with the same key and gets the replayed
payment; the tables hold one payment and the sandbox one charge.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from . import fault_proxy, server_info, template
from .fault_proxy import FaultProxy, Seen

MERCHANT = f"arn:aws:iam::000000000000:user/demo-timeout-{uuid.uuid4().hex[:6]}"


def step(text: str) -> None:
    print(text, flush=True)


def _start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - this Python, our own server module
            [sys.executable, "-m", "local.server", "--port", str(port)],
            cwd=template.ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while server_info.read(port) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the local server did not start; its log: {log}")
        time.sleep(0.1)
    return process


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _count(endpoint: str, table: str, **match: str) -> int:
    """Items of a local table with these attribute values (a scan: a demo's few items, never the API's way)."""
    import boto3

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )
    items: list[dict[str, Any]] = client.scan(TableName=table)["Items"]
    return sum(all(item.get(k, {}).get("S") == v for k, v in match.items()) for item in items)


def _on_request(seen: Seen) -> None:
    if seen.fault == "swallow":
        step(
            f"   proxy: forwarded it, the server answered {seen.upstream_status}; the proxy kept that answer to itself"
        )
    else:
        step(f"   proxy: forwarded it, the server answered {seen.upstream_status}; passed on to the client")


def main() -> int:
    import payments_client as pc

    started = time.monotonic()
    port = _free_port()
    log = Path(tempfile.gettempdir()) / f"demo-timeout-{port}.log"
    step(f"1. starting the local server on 127.0.0.1:{port} (log: {log})")
    process = _start_server(port, log)
    try:
        info = server_info.read(port)
        assert info is not None
        with FaultProxy(info.api, on_request=_on_request).plan(fault_proxy.swallow(3.0)) as proxy:
            step(f"2. a fault proxy on {proxy.url}: it lets the first request through and drops its answer")
            key = f"order-{uuid.uuid4().hex[:8]}"
            step(f"3. client: POST /payments 10.00 USD tok_visa, Idempotency-Key {key}, timeout 2 s")
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("   client log: %(message)s"))
            logging.getLogger("payments_client").addHandler(handler)
            logging.getLogger("payments_client").setLevel(logging.DEBUG)
            with pc.Client(proxy.url, headers={"X-Merchant-Id": MERCHANT}, timeout=2.0) as client:
                payment = client.create_payment(amount=1000, currency="USD", source="tok_visa", idempotency_key=key)
        step("4. the client had no answer (timed out: did it go through?) and retried with the same key and body")
        step(
            f"   result: {payment.id} {payment.status} {payment.amount} {payment.currency}, replayed={payment.replayed}"
        )
        tables = {t.split("-", 1)[1]: t for t in _table_names(info.endpoint)}
        payments = _count(info.endpoint, tables["PaymentsTable"], merchant_id=MERCHANT)
        charges = _count(info.endpoint, tables["SandboxChargesTable"], charge_id=payment.processor_payment_id or "")
        step(f"5. {tables['PaymentsTable']}: {payments} payment for this merchant; sandbox charges for it: {charges}")
        ok = payment.replayed and payments == 1 and charges == 1
        step(f"{'exactly once' if ok else 'NOT exactly once'} ({time.monotonic() - started:.1f} s)")
        return 0 if ok else 1
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def _table_names(endpoint: str) -> list[str]:
    import boto3

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )
    return [str(name) for name in client.list_tables()["TableNames"]]


if __name__ == "__main__":
    raise SystemExit(main())

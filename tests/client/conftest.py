"""The local server (`make run`'s command) with a fault proxy in front: the client alone does the retrying."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.fault_proxy import FaultProxy
from tests.e2e.conftest import LocalServer, start_server, stop_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    log: Path = tmp_path_factory.mktemp("client-server") / "server.log"
    started = start_server(log, "--slow-seconds", "2")
    try:
        warm(started.base)
        yield started
    finally:
        stop_server(started.process)


@pytest.fixture
def proxy(server: LocalServer) -> Iterator[FaultProxy]:
    with FaultProxy(server.base) as running:
        yield running


@pytest.fixture
def merchant() -> dict[str, str]:
    """A merchant of this test alone, so its listing holds only what the test made."""
    return {"X-Merchant-Id": f"arn:aws:iam::000000000000:user/client-{uuid.uuid4().hex[:10]}"}


def warm(base: str, environments: int = 3) -> None:
    """Start environments before the tests (slow payments at once, each needs its own), so a retry's
    answer is not a cold start's: the timings the tests choose are the network's, not the imports'."""
    import payments_client as pc

    def one(_: int) -> None:
        with pc.Client(base, headers={"X-Merchant-Id": "warm-up"}) as c:
            c.create_payment(amount=100, currency="USD", source="tok_slow")

    with ThreadPoolExecutor(environments) as pool:
        list(pool.map(one, range(environments)))

"""The request being observed is local to its context: requests served at once on threads (the local server,
concurrency tests) never write into each other's log line."""

from __future__ import annotations

import threading

from payments_service.handlers import observability


def test_each_thread_observes_its_own_request() -> None:
    both_started = threading.Barrier(2, timeout=5)
    seen: dict[str, tuple[str, str]] = {}

    def serve(operation: str) -> None:
        observability.observe(operation)
        both_started.wait()  # the other request has started too
        observability.current().fields["merchant"] = operation
        both_started.wait()
        seen[operation] = (observability.current().operation, observability.current().fields["merchant"])

    threads = [threading.Thread(target=serve, args=(name,)) for name in ("POST /payments", "GET /payments")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert seen == {name: (name, name) for name in ("POST /payments", "GET /payments")}


def test_outside_a_request_there_is_an_unrouted_observation() -> None:
    observed = threading.Thread(target=lambda: seen.append(observability.current().operation))
    seen: list[str] = []
    observed.start()
    observed.join(timeout=5)
    assert seen == ["unrouted"]

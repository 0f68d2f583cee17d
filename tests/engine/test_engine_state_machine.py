"""Random interleavings of invocations of one engine over the in-memory store, checked against a model.

Concurrency is modelled by nesting: while an invocation is inside its operation, hypothesis may move
the clock, run other invocations of the same keys to their end, or kill it (a BaseException the
engine cannot catch, as a process death). Properties, for every key within its retention period:
- every operation under the key used one and the same reference (the downstream never sees two);
- at most one result is ever committed, and every answer that is not an error is that result;
- a different payload under a live key is always refused.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from payments_service.idempotency import (
    Claim,
    Completion,
    IdempotencyEngine,
    IdempotentRequest,
    KeyInUse,
    KeyReused,
    Status,
    TemporarilyUnavailable,
)
from payments_service.idempotency.memory_store import InMemoryStore
from tests.support import FakeClock

KEYS = ("a", "b")
PAYLOADS = ('{"n":1}', '{"n":2}')
LEASES = (1_000, 3_000)


class Death(BaseException):
    pass


class Transient(Exception):
    pass


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.sampled_from([200, 1_000, 3_001])),
        st.tuples(st.just("nested"), st.sampled_from(KEYS), st.sampled_from(PAYLOADS), st.sampled_from(LEASES)),
        st.tuples(st.just("end"), st.sampled_from(["commit", "transient", "die"])),
    ),
    max_size=4,
)


class EngineInterleavings(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(1_700_000_000_000)
        self.store = InMemoryStore()
        self.engine = IdempotencyEngine(
            self.store, retention_seconds=3600, lease_margin_ms=0, default_lease_ms=2_000, clock=self.clock
        )
        self.references: dict[str, set[str]] = {k: set() for k in KEYS}
        self.committed: dict[str, str] = {}
        self.first_payload: dict[str, str] = {}
        self.invocations = 0

    def _invoke(self, key: str, payload: str, remaining: int, plan: list[Any]) -> None:
        request = IdempotentRequest(scope="m", key=key, operation="op", payload=payload)
        self.invocations += 1
        me = self.invocations  # results differ per invocation, so a stale one's result is told apart

        def operation(claim: Claim) -> Completion:
            self.references[key].add(claim.reference)
            self.first_payload.setdefault(key, payload)  # a claimed key keeps its payload, released or not
            while plan:
                step = plan.pop(0)
                if step[0] == "advance":
                    self.clock.advance(step[1])
                elif step[0] == "nested":
                    self._invoke(step[1], step[2], step[3], [])
                elif step[1] == "transient":
                    raise Transient
                elif step[1] == "die":
                    raise Death
                else:
                    break
            return Completion(f"{key}|{payload}|{claim.reference}|{me}")

        try:
            outcome = self.engine.run(request, operation, remaining_ms=remaining, retry_on=(Transient,))
        except Death:
            return
        except KeyReused:
            assert self.first_payload.get(key) not in (None, payload), "refused a payload that is the key's own"
            return
        except (KeyInUse, TemporarilyUnavailable):
            return
        assert payload == self.first_payload[key], "answered a different payload under a live key"
        known = self.committed.setdefault(key, outcome.result)
        assert outcome.result == known, "two different results committed for one key"

    @rule(key=st.sampled_from(KEYS), payload=st.sampled_from(PAYLOADS), remaining=st.sampled_from(LEASES), plan=ACTIONS)
    def send(self, key: str, payload: str, remaining: int, plan: list[Any]) -> None:
        self._invoke(key, payload, remaining, plan)

    @rule(ms=st.sampled_from([500, 3_001]))
    def wait(self, ms: int) -> None:
        self.clock.advance(ms)

    @invariant()
    def one_reference_per_key(self) -> None:
        for key, references in self.references.items():
            assert len(references) <= 1, (key, references)

    @invariant()
    def the_store_holds_what_was_answered(self) -> None:
        for key, result in self.committed.items():
            record = self.store.records[IdempotentRequest("m", key, "op", "").record_id]
            assert record.status is Status.COMPLETED and record.result == result


def test_random_interleavings_keep_each_key_exactly_once() -> None:
    run_state_machine_as_test(
        EngineInterleavings, settings=settings(max_examples=300, stateful_step_count=20, deadline=None)
    )

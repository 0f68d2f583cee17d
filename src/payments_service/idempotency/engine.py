"""Exactly-once execution under an idempotency key: claim, run, complete or release, with fencing.

The store's conditional writes are the only synchronisation: a claim is one conditional put, a
conflict answers from the item the failed write returned, and every later write is conditioned
on the owner token, so an invocation whose lease ran out can no longer change anything.
"""

from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import Callable

from .cache import ReplayCache
from .clock import Clock, SystemClock
from .errors import KeyInUse, KeyReused, ReferenceExpired, TemporarilyUnavailable
from .records import IdempotencyRecord, Status
from .requests import Claim, Completion, IdempotentRequest, InFlightPolicy, Outcome, Recovery, Verdict
from .store import IdempotencyStore, RecordConflict, StoreUnavailable, WriteRejected

MIN_LEASE_MS = 1_000


def _seconds_until(deadline_ms: int | None, now_ms: int) -> int:
    """Whole seconds until `deadline_ms`, rounded up, at least 1 (a Retry-After value)."""
    if deadline_ms is None:
        return 1
    return max(1, math.ceil((deadline_ms - now_ms) / 1000))


class IdempotencyEngine:
    def __init__(
        self,
        store: IdempotencyStore,
        *,
        retention_seconds: int,
        lease_margin_ms: int,
        default_lease_ms: int,
        clock: Clock | None = None,
        cache: ReplayCache | None = None,
        reference_window_seconds: int | None = None,
        in_flight: InFlightPolicy | None = None,
    ) -> None:
        """reference_window_seconds: how long downstream deduplicates a reference (Stripe: 24 h); None: for ever."""
        self._store = store
        self._reference_window_ms = None if reference_window_seconds is None else reference_window_seconds * 1000
        self._retention_s = retention_seconds
        self._margin_ms = lease_margin_ms
        self._default_lease_ms = default_lease_ms
        self._clock = clock or SystemClock()
        self._cache = cache
        self._in_flight = in_flight or InFlightPolicy()

    def run(
        self,
        request: IdempotentRequest,
        operation: Callable[[Claim], Completion],
        *,
        remaining_ms: int | None = None,
        forget_on: tuple[type[BaseException], ...] = (),
        retry_on: tuple[type[BaseException], ...] = (),
    ) -> Outcome:
        """Run `operation` at most once per (scope, key) and return its recorded result.

        forget_on: exceptions meaning nothing happened downstream; the key is deleted.
        retry_on: transient exceptions; the key is released and TemporarilyUnavailable raised.
        Any other exception releases the key and propagates; so does WriteRejected, after the key
        is released or forgotten as the completion asked.

        Raises KeyInUse (another owner holds a live lease; `retry_after_seconds`), KeyReused (the key was
        claimed for another payload), ReferenceExpired (an unknown outcome older than the downstream's
        dedupe window: left to recovery) and TemporarilyUnavailable (the store failed, or `retry_on`).
        """
        now = self._clock.now_ms()
        rid = request.record_id
        if self._cache is not None and (cached := self._cache.get(rid, now)) is not None:
            return self._answer_existing(request, cached, now)

        started = self._in_flight.elapsed_ms()
        lease_until = now + self._lease_ms(remaining_ms)
        owner = secrets.token_hex(16)
        fresh = IdempotencyRecord(
            record_id=rid,
            status=Status.IN_PROGRESS,
            fingerprint=request.fingerprint,
            reference=f"{rid[:32]}-{secrets.token_hex(8)}",
            reference_created_at_ms=now,
            expires_at=self._expiry(now, lease_until),
            operation=request.operation,
            payload=request.payload,
            scope=request.scope,
            owner=owner,
            lease_expires_at_ms=lease_until,
        )
        try:
            try:
                self._store.put_new(fresh, now)
            except RecordConflict as conflict:
                if conflict.current is None or not conflict.current.is_expired(now):
                    raise
                # Expired, yet refused: the store finished a completion left midway first. Claim it now.
                self._store.put_new(fresh, now)
            claim = Claim(rid, owner, fresh.reference, lease_until, fresh.expires_at)
        except StoreUnavailable as exc:
            # The put may have applied with its answer lost: give the would-be claim back.
            raise TemporarilyUnavailable(self._release_unknown(rid, owner, lease_until, now)) from exc
        except RecordConflict as conflict:
            existing = conflict.current
            if existing is not None and existing.owner == owner:
                # The SDK re-sent our own claim after losing its first answer: the claim is ours.
                claim = Claim(rid, owner, existing.reference, lease_until, existing.expires_at)
            else:
                try:
                    taken = self._claim_existing(request, existing, owner, lease_until, now)
                except KeyInUse:
                    return self._await_result(request, self._wait_budget_ms(remaining_ms, started))
                if isinstance(taken, Outcome):
                    return taken
                claim = taken
        return self._run(request, claim, operation, forget_on, retry_on)

    def _wait_budget_ms(self, remaining_ms: int | None, started: float) -> float:
        """How long a duplicate may wait for the first request's result: the policy's wait, within its own time."""
        budget = float(self._in_flight.wait_ms)
        if remaining_ms is not None:
            spent = self._in_flight.elapsed_ms() - started
            budget = min(budget, remaining_ms - self._margin_ms - spent - self._in_flight.poll_ms)
        return budget

    def _await_result(self, request: IdempotentRequest, budget_ms: float) -> Outcome:
        """Poll the key while its holder works; replay its result if it completes in time, else KeyInUse."""
        deadline = self._in_flight.elapsed_ms() + budget_ms
        while self._in_flight.elapsed_ms() + self._in_flight.poll_ms <= deadline:
            self._in_flight.sleep(self._in_flight.poll_ms / 1000)
            try:
                current = self._store.get(request.record_id)
            except StoreUnavailable:
                break
            now = self._clock.now_ms()
            if current is None or current.is_expired(now) or not request.matches(current.fingerprint):
                break
            if current.status is Status.COMPLETED and current.result is not None:
                return self._answer_existing(request, current, now)
            if not current.lease_active(now):
                break  # released or its holder is gone: a retry now takes it over
        raise KeyInUse(self._in_flight.retry_after_seconds)

    def unresolved(self, min_age_ms: int, limit: int) -> list[str]:
        """Unparked record ids whose outcome is unknown, in line (unknown, or last looked at by a recovery) for
        at least `min_age_ms`: longest in line first, so a key a recovery could not resolve goes to the back."""
        return self._store.unresolved(self._clock.now_ms() - min_age_ms, limit)

    def count_unresolved(self, min_age_ms: int, cap: int) -> int:
        """How many unparked keys have waited in line at least `min_age_ms`, up to `cap`."""
        return self._store.count_unresolved(self._clock.now_ms() - min_age_ms, cap)

    def count_parked(self, cap: int) -> int:
        return self._store.count_parked(cap)

    def recover(
        self,
        record_id: str,
        finish: Callable[[IdempotencyRecord, Claim], Completion | Verdict],
        *,
        remaining_ms: int | None = None,
        max_attempts: int | None = None,
    ) -> Recovery:
        """Take an unresolved key over exactly as a retry would (fenced, same reference) and let `finish`
        complete it from what was stored at claim, or say why it cannot.

        `finish` gets the record as found and the claim; any exception it raises releases the key as
        still unknown (counted as an attempt) and propagates. A key still unknown goes to the back of the
        recovery line keeping its age; after `max_attempts` (None: no cap) it is parked out of the line.
        TemporarilyUnavailable if the store fails; WriteRejected as in run().
        """
        now = self._clock.now_ms()
        try:
            existing = self._store.get(record_id)
        except StoreUnavailable as exc:
            raise TemporarilyUnavailable(1) from exc
        if existing is None or existing.is_expired(now) or existing.status is Status.COMPLETED:
            return Recovery.SKIPPED
        if existing.lease_active(now):
            return Recovery.SKIPPED
        owner, lease_until = secrets.token_hex(16), now + self._lease_ms(remaining_ms)
        expires_at = self._expiry(now, lease_until)
        try:
            self._store.take_over(existing, owner, lease_until, now, expires_at)
        except StoreUnavailable as exc:
            raise TemporarilyUnavailable(self._release_unknown(record_id, owner, lease_until, now)) from exc
        except RecordConflict as conflict:
            if conflict.current is None or conflict.current.owner != owner:
                return Recovery.SKIPPED  # a retry or another run got there first
        claim = Claim(record_id, owner, existing.reference, lease_until, expires_at)
        try:
            verdict = finish(existing, claim)
        except Exception:
            self._give_back_unknown(existing, claim, max_attempts)
            raise
        return self._recovered(existing, claim, verdict, max_attempts)

    def _recovered(
        self, existing: IdempotencyRecord, claim: Claim, verdict: Completion | Verdict, max_attempts: int | None
    ) -> Recovery:
        """Do what a recovery's `finish` decided, with the key it holds."""
        record_id, owner = claim.record_id, claim.owner
        if isinstance(verdict, Completion):
            committed, _ = self._commit(claim, verdict)
            return Recovery.COMPLETED if committed else Recovery.SKIPPED
        if verdict is Verdict.NOT_DONE:
            with contextlib.suppress(StoreUnavailable, RecordConflict):  # else the lease lapses: looked at again
                self._store.release(record_id, owner, unknown_since_ms=None)
            return Recovery.NOT_DONE
        if verdict is Verdict.FORGET:
            self._quietly(self._store.forget, claim)
            return Recovery.FORGOTTEN
        return self._give_back_unknown(existing, claim, max_attempts)

    def _give_back_unknown(self, existing: IdempotencyRecord, claim: Claim, max_attempts: int | None) -> Recovery:
        """Release a key a recovery could not resolve: it keeps its age (a recovery never makes it look younger)
        but goes to the back of the line, so keys nobody can resolve never fill every run; parked at the cap."""
        now = self._clock.now_ms()
        attempts = existing.reconcile_attempts + 1
        parked = max_attempts is not None and attempts >= max_attempts
        with contextlib.suppress(StoreUnavailable, RecordConflict):  # else the lease lapses: looked at again
            self._store.release(
                claim.record_id,
                claim.owner,
                unknown_since_ms=existing.unknown_since_ms or now,
                looked_at_ms=now,
                attempts=attempts,
                parked=parked,
            )
        return Recovery.PARKED if parked else Recovery.STILL_UNKNOWN

    def _claim_existing(
        self, request: IdempotentRequest, existing: IdempotencyRecord | None, owner: str, lease_until: int, now: int
    ) -> Claim | Outcome:
        """The key is live: replay it, refuse (reused / in use), or take it over if its holder is gone."""
        if existing is None or existing.is_expired(now) or existing.status is Status.COMPLETED:
            return self._answer_existing(request, existing, now)
        if not request.matches(existing.fingerprint):
            raise KeyReused()
        if existing.lease_active(now):
            raise KeyInUse(self._in_flight.retry_after_seconds)
        if self._reference_outlived(existing, lease_until):
            raise ReferenceExpired()
        return self._take_over(request, existing, owner, lease_until, now)

    def _reference_outlived(self, existing: IdempotencyRecord, lease_until: int) -> bool:
        """Whether downstream may stop deduplicating the reference before a new owner's lease ends."""
        created = existing.reference_created_at_ms
        if self._reference_window_ms is None or created is None:
            return False
        return created + self._reference_window_ms < lease_until

    def _expiry(self, now: int, lease_until: int) -> int:
        # Never before the lease ends: a key that expired under a live owner would be claimed afresh
        # under a new reference, and the processor would charge twice.
        return max(now // 1000 + self._retention_s, -(-lease_until // 1000) + 1)

    def _lease_ms(self, remaining_ms: int | None) -> int:
        if remaining_ms is None:
            return self._default_lease_ms
        return max(remaining_ms - self._margin_ms, MIN_LEASE_MS)

    def _answer_existing(self, request: IdempotentRequest, existing: IdempotencyRecord | None, now: int) -> Outcome:
        """Answer a request whose key is held by a record we do not own."""
        if existing is None or existing.is_expired(now):
            # Changed under us between two conditional writes: let the client retry.
            raise KeyInUse(1)
        if not request.matches(existing.fingerprint):
            raise KeyReused()
        if existing.status is Status.COMPLETED and existing.result is not None:
            if self._cache is not None:
                self._cache.put(existing)
            return Outcome(existing.result, replayed=True, record_id=existing.record_id)
        raise KeyInUse(self._in_flight.retry_after_seconds if existing.lease_active(now) else 1)

    def _take_over(
        self, request: IdempotentRequest, existing: IdempotencyRecord, owner: str, lease_until: int, now: int
    ) -> Claim | Outcome:
        expires_at = self._expiry(now, lease_until)  # retention restarts with every new owner
        try:
            self._store.take_over(existing, owner, lease_until, now, expires_at)
        except StoreUnavailable as exc:
            raise TemporarilyUnavailable(self._release_unknown(existing.record_id, owner, lease_until, now)) from exc
        except RecordConflict as conflict:
            current = conflict.current
            if current is None or current.owner != owner:
                return self._answer_existing(request, current, now)  # someone else got there first
            # else: the SDK re-sent our own takeover after losing its answer; it is ours
        return Claim(existing.record_id, owner, existing.reference, lease_until, expires_at)

    def _run(
        self,
        request: IdempotentRequest,
        claim: Claim,
        operation: Callable[[Claim], Completion],
        forget_on: tuple[type[BaseException], ...],
        retry_on: tuple[type[BaseException], ...],
    ) -> Outcome:
        try:
            completion = operation(claim)
        except forget_on:
            self._quietly(self._store.forget, claim)
            raise
        except retry_on as exc:
            raise TemporarilyUnavailable(self._release(claim)[0]) from exc
        except Exception:
            self._release(claim)
            raise
        committed, current = self._commit(claim, completion)
        if not committed:
            # Fenced: my lease ran out and another invocation owns the key. Write nothing more.
            return self._answer_existing(request, current, self._clock.now_ms())
        return self._completed(request, claim, completion)

    def _commit(self, claim: Claim, completion: Completion) -> tuple[bool, IdempotencyRecord | None]:
        """Record the completion if the key is still mine: (True, None), or (False, the record as it is now).

        WriteRejected after giving the key back as the completion asked; TemporarilyUnavailable if unknown."""
        try:
            self._store.complete(claim.record_id, claim.owner, completion.result, completion.writes)
        except RecordConflict as conflict:
            current = conflict.current
            # The SDK may have re-sent our own completion after losing its first answer: then it is ours.
            return self._completed_by(current, claim), current
        except WriteRejected:
            # The transaction applied nothing: the key must not stay held until its lease ends.
            if completion.if_rejected == "forget":
                self._quietly(self._store.forget, claim)
            else:
                self._release(claim)
            raise
        except StoreUnavailable as exc:
            retry_after, current = self._release(claim)
            if self._completed_by(current, claim):
                # The commit went through although its answer was lost: that result is ours.
                return True, None
            raise TemporarilyUnavailable(retry_after) from exc
        return True, None

    @staticmethod
    def _completed_by(current: IdempotencyRecord | None, claim: Claim) -> bool:
        return current is not None and current.status is Status.COMPLETED and current.owner == claim.owner

    def _completed(self, request: IdempotentRequest, claim: Claim, completion: Completion) -> Outcome:
        if self._cache is not None:
            self._cache.put(
                IdempotencyRecord(
                    record_id=claim.record_id,
                    status=Status.COMPLETED,
                    fingerprint=request.fingerprint,
                    reference=claim.reference,
                    expires_at=claim.expires_at,
                    result=completion.result,
                )
            )
        return Outcome(completion.result, replayed=False, record_id=claim.record_id)

    def _release_unknown(self, record_id: str, owner: str, lease_until: int, now: int) -> int:
        """After a claim whose outcome is unknown: release it if it applied. Returns an honest Retry-After."""
        try:
            self._store.release(record_id, owner, unknown_since_ms=now)
        except RecordConflict:
            return 1  # it never applied (or is no longer ours): nothing holds the key for us
        except StoreUnavailable:
            return _seconds_until(lease_until, now)  # it may hold the key until its lease ends
        return 1

    def _release(self, claim: Claim, unknown_since_ms: int | None = None) -> tuple[int, IdempotencyRecord | None]:
        """Give the key back, its outcome unknown (since now, unless told). Returns seconds until a retry can
        take it, and the record if no longer mine."""
        since = unknown_since_ms if unknown_since_ms is not None else self._clock.now_ms()
        try:
            self._store.release(claim.record_id, claim.owner, unknown_since_ms=since)
        except StoreUnavailable:
            return _seconds_until(claim.lease_expires_at_ms, self._clock.now_ms()), None
        except RecordConflict as conflict:
            return 1, conflict.current  # completed or taken over: nothing to give back
        return 1, None

    @staticmethod
    def _quietly(action: Callable[[str, str], None], claim: Claim) -> None:
        with contextlib.suppress(StoreUnavailable, RecordConflict):  # the lease will lapse on its own
            action(claim.record_id, claim.owner)

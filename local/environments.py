"""Execution environments like Lambda's: worker processes that each import the handler once (their own
cold start and module state) and serve one event at a time; a pool hands each event to an idle one and
starts new ones up to a maximum, as Lambda scales out up to its concurrency.
"""

from __future__ import annotations

import contextlib
import json
import math
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MEMORY_MB = 512
# Every pool of this process shares the log stream (make run: the API's and the queue's functions).
_LOG_LOCK = threading.Lock()


class EnvironmentFailed(Exception):
    """The environment could not answer: init error, crash, or the function timed out."""


@dataclass(frozen=True)
class Invocation:
    response: dict[str, Any] | None  # the handler's return value
    error: dict[str, Any] | None  # Lambda's error object when the handler raised
    environment: int
    cold: bool


class Environment:
    """One worker process: `python -m local.worker`, the handler imported once at start."""

    def __init__(self, number: int, handler: str, timeout_seconds: float, env: Mapping[str, str], cwd: Path) -> None:
        self.number = number
        self.timeout_seconds = timeout_seconds
        self.process = subprocess.Popen(  # noqa: S603 - this Python, our worker module, the template's handler
            [sys.executable, "-m", "local.worker", handler, str(timeout_seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            text=True,
            encoding="utf-8",
        )
        ready = self._receive(timeout_seconds)
        if "init_error" in ready:
            self.stop()
            raise EnvironmentFailed(f"init failed: {ready['init_error']}\n{ready.get('trace', '')}")
        self.init_ms: float = ready["init_ms"]

    def _receive(self, timeout: float) -> dict[str, Any]:
        out: IO[str] | None = self.process.stdout
        assert out is not None
        readable, _, _ = select.select([out], [], [], timeout)
        line = out.readline() if readable else ""
        if not line:
            self.kill()
            why = f"timed out after {timeout:.2f} seconds" if not readable else "exited"
            raise EnvironmentFailed(f"environment {self.number} {why}")
        message: dict[str, Any] = json.loads(line)
        return message

    def invoke(self, event: dict[str, Any], request_id: str) -> dict[str, Any]:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps({"event": event, "request_id": request_id}) + "\n")
            stdin.flush()
        except OSError as error:
            self.kill()
            raise EnvironmentFailed(f"environment {self.number} is gone: {error}") from None
        # Lambda stops the invocation at the function's timeout; a little slack for the pipe.
        return self._receive(self.timeout_seconds + 1)

    def stop(self, grace_seconds: float = 5) -> None:
        """End after the current event: EOF on stdin, then a kill if it does not leave."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class EnvironmentPool:
    """Idle environments are reused most-recent first (warm), new ones start while fewer than `size` exist."""

    def __init__(  # noqa: PLR0917 - the environments' whole configuration
        self,
        size: int,
        handler: str,
        timeout_seconds: float,
        env: Mapping[str, str],
        cwd: Path,
        log: IO[str] | None = None,
        function_name: str = "",
    ) -> None:
        self.size = size
        # Lambda logs each function to its own log group; here one stream names the function on each line.
        self._label = f" Function: {function_name}" if function_name else ""
        self._handler, self._timeout, self._env, self._cwd = handler, timeout_seconds, dict(env), cwd
        self._log = log or sys.stderr
        self._cond = threading.Condition()
        self._idle: list[Environment] = []
        self._busy: set[Environment] = set()
        self._starting = 0
        self._started = 0
        self._closed = False

    @property
    def environments(self) -> int:
        with self._cond:
            return len(self._idle) + len(self._busy) + self._starting

    def _acquire(self, wait_seconds: float) -> tuple[Environment, bool] | None:
        deadline = time.monotonic() + wait_seconds
        with self._cond:
            while True:
                if self._closed:
                    raise EnvironmentFailed("the runtime is stopping")
                if self._idle:
                    environment = self._idle.pop()
                    self._busy.add(environment)
                    return environment, False
                if len(self._busy) + self._starting < self.size:
                    self._starting += 1
                    self._started += 1
                    number = self._started
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
        self._say(f"INIT_START environment {number} (cold start; {number} started, at most {self.size} at once)")
        try:
            environment = Environment(number, self._handler, self._timeout, self._env, self._cwd)
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            self._busy.add(environment)
        return environment, True

    def _release(self, environment: Environment, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(environment)
            keep = healthy and not self._closed
            if keep:
                self._idle.append(environment)
            self._cond.notify()
        if not keep:
            environment.stop()

    def invoke(self, event: dict[str, Any], request_id: str, wait_seconds: float) -> Invocation | None:
        """Run the event in an environment; None if none became free within `wait_seconds`."""
        acquired = self._acquire(wait_seconds)
        if acquired is None:
            return None
        environment, cold = acquired
        healthy = False
        try:
            result = environment.invoke(event, request_id)
            healthy = True
        except EnvironmentFailed as error:
            self._report(request_id, environment, cold, duration_ms=self._timeout * 1000, status=str(error))
            raise
        finally:
            self._release(environment, healthy)
        self._report(request_id, environment, cold, result["duration_ms"], max_memory_mb=result.get("max_memory_mb"))
        return Invocation(result.get("response"), result.get("error"), environment.number, cold)

    def _report(
        self,
        request_id: str,
        environment: Environment,
        cold: bool,
        duration_ms: float,
        *,
        max_memory_mb: int | None = None,
        status: str | None = None,
    ) -> None:
        # The Lambda console's REPORT line; `Init Duration` only on a cold start.
        line = (
            f"REPORT RequestId: {request_id} Duration: {duration_ms:.2f} ms "
            f"Billed Duration: {math.ceil(duration_ms)} ms Memory Size: {MEMORY_MB} MB"
        )
        if max_memory_mb is not None:
            line += f" Max Memory Used: {max_memory_mb} MB"
        if cold:
            line += f" Init Duration: {environment.init_ms:.2f} ms"
        if status:
            line += f" Status: error ({status})"
        self._say(f"{line} Environment: {environment.number}")

    def _say(self, line: str) -> None:
        # One write per line, under one lock for every pool: print() writes the text and its newline apart, so
        # threads starting environments at once could glue two lines together.
        with _LOG_LOCK:
            self._log.write(f"{line}{self._label}\n")
            self._log.flush()

    def close(self, grace_seconds: float) -> None:
        """Stop taking events, let busy environments finish (up to `grace_seconds`), then end them all."""
        deadline = time.monotonic() + grace_seconds
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            while self._busy and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            remaining = self._idle + list(self._busy)
            self._idle = []
        for environment in remaining:
            environment.stop(grace_seconds=2)

"""The functions as Lambda runs them, on this machine: an embedded moto server (DynamoDB with the template's
tables, SQS with its queues), and per function a pool of execution environments (worker processes that
import the handler from the function's CodeUri); the queue's event source mapping on demand."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import IO, Any

from . import template
from .embedded_dynamodb import EmbeddedDynamoDB
from .environments import MEMORY_MB, EnvironmentPool, Invocation
from .event_source import SqsEventSource
from .queues import LocalQueue, create_queues
from .tables import create_tables

# The developer's choice wins over the template's defaults: `make run PAYMENT_PROCESSOR=stripe STRIPE_API_KEY=…`.
PASS_THROUGH = (
    "PAYMENT_PROCESSOR",
    "STRIPE_API_KEY",
    "STRIPE_API_BASE",
    "PROCESSOR_IDEMPOTENCY_WINDOW_SECONDS",
    "STRIPE_WEBHOOK_SECRET",
)
# The webhook's signing secret locally (env.json has the same): local only, never a real one. The Stripe
# double signs with it by default, and `stripe listen` users pass theirs as STRIPE_WEBHOOK_SECRET.
LOCAL_WEBHOOK_SECRET = "whsec_local_only"  # noqa: S105 - a fixture, not a credential

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# API Gateway gives up on an integration after 29 s; a request waiting for a free environment does too.
INTEGRATION_TIMEOUT_SECONDS = 29.0
LAMBDA_DEFAULT_SQS_CONCURRENCY = 5  # MaximumConcurrency's floor; Lambda starts with 5 pollers


def local_environment(endpoint: str, refs: dict[str, str], logical_id: str | None = None) -> dict[str, str]:
    """AWS settings pointing at the embedded server, then the function's template environment."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_SQS": endpoint,  # moto's full server app serves SQS on the same port
        "POWERTOOLS_DEV": "false",
        "STRIPE_WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET,
        **template.environment(refs, logical_id),
    }


def function_environment(
    endpoint: str, refs: dict[str, str], overrides: dict[str, str], logical_id: str | None = None
) -> dict[str, str]:
    """A worker's environment: this one without AWS settings, then what Lambda and the template set."""
    name, _ = template.function(logical_id)
    code_uri = template.code_uri(name)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # CodeUri first, as /var/task on Lambda; the project root so `-m local.worker` imports without an install.
    path = os.pathsep.join([str(code_uri), str(template.ROOT), inherited.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {
        **inherited,
        "PYTHONPATH": path,
        "LAMBDA_TASK_ROOT": str(code_uri),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        **local_environment(endpoint, refs, name),
        **overrides,
    }


class LocalRuntime:
    """Embedded moto (tables, queues, optional saved state) + a pool of environments per function: up to
    `concurrency` for the API's, up to the SQS event's MaximumConcurrency (or `queue_concurrency`) for the
    queue's."""

    def __init__(
        self,
        dynamodb_port: int = 0,
        overrides: dict[str, str] | None = None,
        concurrency: int = 4,
        state: Path | None = None,
        log: IO[str] | None = None,
        *,
        queue_concurrency: int | None = None,
        queue_visibility_seconds: int | None = None,
    ) -> None:
        self.dynamodb = EmbeddedDynamoDB(port=dynamodb_port, state=state)
        self._overrides = overrides or {}
        self._concurrency = concurrency
        self._queue_concurrency = queue_concurrency
        self._visibility_seconds = queue_visibility_seconds
        self._log = log or sys.stderr
        self.api_function = template.api_function_id()
        self.queue_function = template.queue_function_id()
        self.pools: dict[str, EnvironmentPool] = {}
        self.table_names: dict[str, str] = {}
        self.queues: dict[str, LocalQueue] = {}
        self.restored: dict[str, int] = {}
        self.event_source: SqsEventSource | None = None
        self.api_environment: dict[str, str] = {}  # what the API function's environments run with

    @property
    def pool(self) -> EnvironmentPool | None:
        """The API function's environments."""
        return self.pools.get(self.api_function)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.dynamodb.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )

    def start(self) -> LocalRuntime:
        self.dynamodb.start()
        self.table_names = create_tables(self.client("dynamodb"))
        self.queues = create_queues(self.client("sqs"), visibility_seconds=self._visibility_seconds)
        self.restored = self.dynamodb.restore_state()
        refs = {**self.table_names, **{name: queue.url for name, queue in self.queues.items()}}
        # The developer's choice wins over the template's defaults.
        chosen = {name: os.environ[name] for name in PASS_THROUGH if os.environ.get(name)}
        sizes = {self.api_function: self._concurrency}
        for name in template.api_function_ids():
            sizes.setdefault(name, 1)  # the webhook's: one environment, events are few
        if self.queue_function is not None:
            sizes[self.queue_function] = self.queue_concurrency
        for name, size in sizes.items():
            environment = function_environment(self.dynamodb.endpoint, refs, {**chosen, **self._overrides}, name)
            if name == self.api_function:
                self.api_environment = environment
            self.pools[name] = EnvironmentPool(
                size,
                template.handler_path(name),
                template.timeout_seconds(name),
                environment,
                template.code_uri(name),
                self._log,
                function_name=name,
            )
        return self

    @property
    def queue_concurrency(self) -> int:
        if self._queue_concurrency is not None:
            return self._queue_concurrency
        assert self.queue_function is not None
        source = template.sqs_event_source(self.queue_function)
        return source.maximum_concurrency or LAMBDA_DEFAULT_SQS_CONCURRENCY

    @property
    def queue(self) -> LocalQueue | None:
        """The queue the queue function's SQS event reads."""
        if self.queue_function is None:
            return None
        return self.queues[template.sqs_event_source(self.queue_function).queue]

    @property
    def dead_letter_queue(self) -> LocalQueue | None:
        queue = self.queue
        if queue is None or "RedrivePolicy" not in queue.attributes:
            return None
        arn = json.loads(queue.attributes["RedrivePolicy"])["deadLetterTargetArn"]
        return next((q for q in self.queues.values() if q.arn == arn), None)

    def start_event_source(self, log: IO[str]) -> SqsEventSource | None:
        """Poll the queue function's queue and invoke it with batches, as Lambda's event source mapping."""
        queue = self.queue
        if queue is None or self.queue_function is None:
            return None
        function = self.queue_function
        source = template.sqs_event_source(function)
        self.event_source = SqsEventSource(
            self.client("sqs"),
            queue.url,
            queue.arn,
            source.batch_size,
            self.queue_concurrency,
            lambda event, wait: self.invoke(event, wait, function=function),
            template.timeout_seconds(function),
            log,
            dead_letter_queue.url if (dead_letter_queue := self.dead_letter_queue) is not None else None,
        ).start()
        return self.event_source

    def invoke(
        self, event: dict[str, Any], wait_seconds: float = INTEGRATION_TIMEOUT_SECONDS, function: str | None = None
    ) -> Invocation | None:
        """Run one event in a free environment of `function` (default: the API's); None if none freed up in
        time; raises EnvironmentFailed."""
        assert self.pools, "start() first"
        pool = self.pools[function or self.api_function]
        return pool.invoke(event, str(uuid.uuid4()), wait_seconds)  # Lambda's own id, not API Gateway's

    def stop(self, grace_seconds: float = 0) -> int:
        """Stop the event source (batches in flight finish within the grace), then the environments and the
        embedded server. Returns the batches cut short (their messages were not deleted)."""
        cut = self.event_source.stop(grace_seconds) if self.event_source is not None else 0
        for pool in self.pools.values():
            pool.close(grace_seconds)
        self.dynamodb.stop()
        return cut

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

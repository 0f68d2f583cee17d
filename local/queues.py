"""Creates the SQS queues as template.yaml defines them (visibility timeout, retention, redrive policy) in
the embedded moto server, which serves SQS at the same endpoint as DynamoDB."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import template

# The attributes that shape delivery locally; encryption and policies have no local meaning.
_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")


@dataclass(frozen=True)
class LocalQueue:
    logical_id: str
    url: str
    arn: str
    attributes: dict[str, str]


def _attributes(props: dict[str, Any], refs: dict[str, str], visibility_seconds: int | None) -> dict[str, str]:
    attributes = {
        name: str(value) for name in _ATTRIBUTES if (value := template.resolve(props.get(name), refs)) is not None
    }
    if visibility_seconds is not None:
        attributes["VisibilityTimeout"] = str(visibility_seconds)
    redrive = template.resolve(props.get("RedrivePolicy"), refs)
    if redrive:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": redrive["deadLetterTargetArn"], "maxReceiveCount": int(redrive["maxReceiveCount"])}
        )
    return attributes


def create_queues(client: Any, prefix: str = "local", visibility_seconds: int | None = None) -> dict[str, LocalQueue]:
    """Every AWS::SQS::Queue of the template, a dead-letter queue before the queues that name it.

    `visibility_seconds` overrides the queues' VisibilityTimeout (fast redelivery in tests)."""
    pending = dict(template.resources("AWS::SQS::Queue"))
    queues: dict[str, LocalQueue] = {}
    refs: dict[str, str] = {}
    while pending:
        ready = [name for name, res in pending.items() if _depends_on(res.get("Properties") or {}) <= set(queues)]
        if not ready:
            raise ValueError(f"queues whose redrive targets are not queues of the template: {sorted(pending)}")
        for name in ready:
            props = pending.pop(name).get("Properties") or {}
            attributes = _attributes(props, refs, visibility_seconds)
            url = client.create_queue(QueueName=f"{prefix}-{name}", Attributes=attributes)["QueueUrl"]
            arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            queues[name] = LocalQueue(name, url, arn, attributes)
            refs[name], refs[f"{name}.Arn"] = url, arn  # !Ref of a queue is its URL
    return queues


def _depends_on(props: dict[str, Any]) -> set[str]:
    target = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
    if isinstance(target, dict) and "Fn::GetAtt" in target:
        return {target["Fn::GetAtt"][0]}
    return set()

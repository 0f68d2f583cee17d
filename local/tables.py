"""Creates the DynamoDB tables exactly as template.yaml defines them (keys, attributes, indexes, TTL)."""

from __future__ import annotations

from typing import Any

from . import template


def table_definitions() -> dict[str, dict[str, Any]]:
    return {name: res["Properties"] for name, res in template.resources("AWS::DynamoDB::Table").items()}


def create_tables(client: Any, prefix: str = "local") -> dict[str, str]:
    """Create every table of the template; returns logical id -> physical table name."""
    names: dict[str, str] = {}
    existing = set(client.list_tables().get("TableNames", []))
    for logical_id, props in table_definitions().items():
        name = f"{prefix}-{logical_id}"
        names[logical_id] = name
        if name in existing:
            continue
        indexes = {k: props[k] for k in ("GlobalSecondaryIndexes",) if k in props}
        client.create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            **indexes,
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return names

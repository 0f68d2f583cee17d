"""Which tables to talk to: the local run's (an endpoint, names as local/ creates them) or a deployed
stack's (names from its CloudFormation outputs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The template's table resources, and the stack outputs naming them.
TABLES = {
    "IdempotencyTable": "IdempotencyTableName",
    "PaymentsTable": "PaymentsTableName",
    "RefundsTable": "RefundsTableName",
    "SandboxChargesTable": "SandboxChargesTableName",
}
REQUIRED = ("IdempotencyTable", "PaymentsTable", "RefundsTable")


class TargetError(Exception):
    """The tables cannot be found: no such stack, or it lacks an output."""


@dataclass(frozen=True)
class Target:
    tables: dict[str, str]  # logical id -> table name
    endpoint: str | None = None  # a local DynamoDB; None: AWS
    region: str | None = None

    def environment(self) -> dict[str, str]:
        """The service's settings for these tables."""
        env = {
            "IDEMPOTENCY_TABLE_NAME": self.tables["IdempotencyTable"],
            "PAYMENTS_TABLE_NAME": self.tables["PaymentsTable"],
            "REFUNDS_TABLE_NAME": self.tables["RefundsTable"],
        }
        if "SandboxChargesTable" in self.tables:
            env["SANDBOX_CHARGES_TABLE_NAME"] = self.tables["SandboxChargesTable"]
        return env

    def dynamodb(self) -> Any:
        import boto3

        if self.endpoint is None:
            return boto3.client("dynamodb", region_name=self.region)
        from local.runtime import FAKE_CREDENTIALS  # the embedded DynamoDB takes any credentials

        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name=FAKE_CREDENTIALS["AWS_REGION"],
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


def local(endpoint: str, prefix: str = "local") -> Target:
    """The tables `make run` / `make dynamodb` create: `<prefix>-<LogicalId>` (local/tables.py)."""
    return Target({logical: f"{prefix}-{logical}" for logical in TABLES}, endpoint=endpoint)


def stack(name: str, region: str | None = None) -> Target:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=name)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise TargetError(f"cannot read stack {name}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found[0].get("Outputs", [])} if found else {}
    tables = {logical: outputs[output] for logical, output in TABLES.items() if output in outputs}
    missing = [TABLES[logical] for logical in REQUIRED if logical not in tables]
    if missing:
        raise TargetError(f"stack {name} has no output {', '.join(missing)}")
    return Target(tables, region=region)

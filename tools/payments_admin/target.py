"""Which tables to talk to: the local run's (an endpoint, names as local/ creates them) or a deployed
stack's (names from its CloudFormation outputs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
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
        from botocore.config import Config

        # The embedded DynamoDB takes any credentials; a server that is gone should fail in seconds, not minutes.
        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - not a secret: moto accepts anything
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
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


def running(port: int | None = None, directories: tuple[Path, ...] | None = None) -> Target:
    """The DynamoDB of the `make run` running here: its server writes `.aws-sam/local/server-PORT.json`
    (local/server_info.py) with its endpoint and pid; files of stopped or killed servers are skipped."""
    from local import server_info

    searched = directories or tuple(dict.fromkeys((Path.cwd() / ".aws-sam" / "local", server_info.DIRECTORY)))
    found: dict[int, str] = {}
    for directory in searched:
        for path in sorted(directory.glob("server-*.json")):
            try:
                number = int(path.stem.removeprefix("server-"))
                info = server_info.read(number, directory)
            except (ValueError, OSError, json.JSONDecodeError):
                continue
            if info is not None and (port is None or number == port):
                found.setdefault(number, info.endpoint)
    if not found:
        which = f" on port {port}" if port is not None else ""
        raise TargetError(
            f"no running local server{which} found (looked in {', '.join(map(str, searched))}): "
            "start one with `make run`, or pass --endpoint or --stack"
        )
    if len(found) > 1:
        raise TargetError(f"several local servers are running (ports {sorted(found)}): pass --port")
    return local(next(iter(found.values())))

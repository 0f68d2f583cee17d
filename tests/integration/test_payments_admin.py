"""`payments-admin` against the embedded DynamoDB: the local run's tables, and a stack's outputs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from payments_service.idempotency.keys import record_id
from tests.support import FakeContext, payment_event, unique, visa
from tools.payments_admin.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lost_key(dynamodb: Any) -> tuple[str, str]:
    """A key whose charge happened but whose answer was lost: released, a payment nobody recorded.

    Served by the service as deployed: the sandbox keeps its charges in its table (test-SandboxChargesTable).
    """
    from payments_service import bootstrap
    from payments_service.handlers import api
    from payments_service.models.settings import Settings

    merchant, key = f"arn:aws:iam::111111111111:user/{unique('adm')}", unique("k")
    bootstrap.use(bootstrap.build(Settings.from_env()))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            answer = api.lambda_handler(
                payment_event(key, visa(source="tok_lostResponse"), merchant=merchant), FakeContext()
            )
    finally:
        bootstrap.use(None)
    assert answer["statusCode"] == 503
    return merchant, key


def _admin(*argv: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    status = main([*argv, "--json"], out=out)
    return status, json.loads(out.getvalue())


def test_key_show_and_reconcile_against_the_local_tables(dynamodb: Any, lost_key: tuple[str, str]) -> None:
    merchant, key = lost_key
    local = ("--endpoint", dynamodb.endpoint, "--prefix", "test")
    status, shown = _admin(*local, "key", "show", "--merchant", merchant, "--key", key)
    assert status == 0
    assert shown["status"] == "RELEASED" and shown["record_id"] == record_id(merchant, key)
    assert shown["unknown_since"] is not None and not shown["lease_live"] and not shown["payment_recorded"]
    assert shown["payment_id"].startswith("pay_") and shown["reference"] and shown["expires_at"]
    assert shown["reconcile_attempts"] == 0 and shown["parked"] is False
    # Reconcile it now: the sandbox's table says it was charged, so the key is completed with its payment
    status, done = _admin(*local, "key", "reconcile", "--merchant", merchant, "--key", key)
    assert status == 0 and done["reconciled"] == "charged"
    assert done["status"] == "COMPLETED" and done["outcome"] == "created" and done["payment_recorded"]
    assert done["payment_id"] == shown["payment_id"] and done["unknown_since"] is None
    payment = dynamodb.client.get_item(TableName="test-PaymentsTable", Key={"payment_id": {"S": done["payment_id"]}})
    assert payment["Item"]["merchant_id"]["S"] == merchant
    # Again: nothing left to do
    status, again = _admin(*local, "key", "reconcile", "--merchant", merchant, "--key", key)
    assert status == 0 and again["reconciled"] == "skipped"


def test_an_unknown_key_is_exit_1(dynamodb: Any) -> None:
    status, shown = _admin(
        "--endpoint", dynamodb.endpoint, "--prefix", "test", "key", "show", "--merchant", "m", "--key", unique("k")
    )
    assert status == 1 and shown["status"] == "absent"


def test_table_names_come_from_a_deployed_stacks_outputs(
    dynamodb: Any, lost_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    # The embedded moto server plays CloudFormation too: a stack whose outputs name the test tables
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", dynamodb.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.endpoint)
    name = unique("stack")
    outputs = {
        out: {"Value": f"test-{logical}"}
        for logical, out in (
            ("IdempotencyTable", "IdempotencyTableName"),
            ("PaymentsTable", "PaymentsTableName"),
            ("RefundsTable", "RefundsTableName"),
            ("SandboxChargesTable", "SandboxChargesTableName"),
        )
    }
    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    boto3.client("cloudformation", region_name="us-east-1").create_stack(StackName=name, TemplateBody=json.dumps(body))
    merchant, key = lost_key
    status, shown = _admin(
        "--stack", name, "--region", "us-east-1", "key", "show", "--merchant", merchant, "--key", key
    )
    assert status == 0 and shown["status"] == "RELEASED"
    assert (
        main(["--stack", unique("missing"), "--region", "us-east-1", "key", "show", "--merchant", "m", "--key", "k"])
        == 2
    )


def test_it_is_installed_as_the_payments_admin_console_script(dynamodb: Any) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["payments-admin"] == "tools.payments_admin.cli:main"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.payments_admin",
            "--endpoint",
            dynamodb.endpoint,
            "--prefix",
            "test",
            "key",
            "show",
            "--merchant",
            "m",
            "--key",
            unique("k"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "absent" in done.stdout, done.stderr


def test_without_endpoint_or_stack_it_finds_the_running_local_server(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from local import server_info
    from tools.payments_admin.target import TargetError, running

    with pytest.raises(TargetError, match="no running local server"):
        running(directories=(tmp_path,))
    # A server that was killed left its file: skipped (its pid is gone).
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True, text=True
    )
    server_info.publish(
        3999, server_info.ServerInfo(int(dead.stdout), "http://x", "http://127.0.0.1:1", "q", "d"), tmp_path
    )
    with pytest.raises(TargetError, match="no running local server"):
        running(directories=(tmp_path,))
    server_info.publish(3001, server_info.ServerInfo(os.getpid(), "http://x", dynamodb.endpoint, "q", "d"), tmp_path)
    assert running(directories=(tmp_path,)).endpoint == dynamodb.endpoint
    assert running(3001, directories=(tmp_path,)).tables["IdempotencyTable"] == "local-IdempotencyTable"
    with pytest.raises(TargetError, match="on port 3002"):
        running(3002, directories=(tmp_path,))
    server_info.publish(3002, server_info.ServerInfo(os.getpid(), "http://y", dynamodb.endpoint, "q", "d"), tmp_path)
    with pytest.raises(TargetError, match="pass --port"):
        running(directories=(tmp_path,))


def test_nothing_listening_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status = main(["--endpoint", f"http://127.0.0.1:{port}", "key", "show", "--merchant", "m", "--key", "k"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "cannot read the tables" in err and "Traceback" not in err

"""Exit code 2 with a clear message for what is not the endpoint's fault: usage and connection errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tools.idempotency_check.cli import main

from .conftest import free_port, scrub_aws

Run = Callable[..., tuple[int, str, str]]


def test_nothing_listening_exits_2_saying_connection_refused(run_checker: Run) -> None:
    port = free_port()  # bound then released: nobody listens there
    code, out, err = run_checker(f"http://127.0.0.1:{port}", "--local", "--timeout", "5")
    assert code == 2
    assert "connection refused" in err
    assert out == ""


def test_a_url_that_is_not_http_exits_2(run_checker: Run) -> None:
    code, _, err = run_checker("ftp://127.0.0.1/payments", "--local")
    assert code == 2
    assert "http://" in err


@pytest.mark.parametrize("argv", [["--concurrency", "1"], ["--timeout", "0"], ["--replays", "0"], []])
def test_bad_options_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    base = [] if not argv else ["http://127.0.0.1:1"]  # [] leaves BASE_URL out altogether
    with pytest.raises(SystemExit) as exited:
        main([*base, *argv])
    assert exited.value.code == 2
    assert "usage: idempotency-check" in capsys.readouterr().err


def test_credentials_without_a_knowable_region_exit_2_asking_for_region(
    run_checker: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    scrub_aws(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    code, _, err = run_checker(f"http://127.0.0.1:{free_port()}")
    assert code == 2
    assert "--region" in err

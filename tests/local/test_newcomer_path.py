"""What a newcomer reads: the banner names the processor; make's venvs heal after an interrupted creation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from local.server import _processor_line
from tests.e2e.conftest import ROOT


def test_banner_names_the_sandbox_by_default() -> None:
    assert _processor_line({}).startswith("processor: sandbox")
    assert _processor_line({"PAYMENT_PROCESSOR": "sandbox"}).startswith("processor: sandbox")


def test_banner_names_stripe_its_api_base_and_the_key_mode_never_the_key() -> None:
    line = _processor_line(
        {
            "PAYMENT_PROCESSOR": "stripe",
            "STRIPE_API_KEY": "sk_test_secret123",
            "STRIPE_API_BASE": "http://127.0.0.1:12111",
        }
    )
    assert line == "processor: Stripe, API base http://127.0.0.1:12111, test mode"
    assert "secret123" not in line
    assert "https://api.stripe.com" in _processor_line({"PAYMENT_PROCESSOR": "stripe", "STRIPE_API_KEY": "sk_live_x"})
    assert "LIVE key" in _processor_line({"PAYMENT_PROCESSOR": "stripe", "STRIPE_API_KEY": "sk_live_x"})


def test_a_venv_cut_short_is_made_again_by_make(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # What Ctrl-C during `python -m venv` leaves: a python, no pip.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=60)
    heal = f"heal: ; @$(call MAKE_VENV,{venv})"
    for _ in range(2):  # the second run finds it usable and does nothing
        done = subprocess.run(
            ["make", "--no-print-directory", "-f", "Makefile", "--eval", heal, "heal"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert subprocess.run([venv / "bin" / "python", "-m", "pip", "--version"], check=False).returncode == 0
    assert done.stderr == ""

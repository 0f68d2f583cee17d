"""Unit tests: base URL parsing, the region an execute-api host names, and when requests are signed."""

from __future__ import annotations

import pytest

from local.events import LOCAL_MERCHANT as SERVER_LOCAL_MERCHANT
from tests.support import unique
from tools.idempotency_check import signing
from tools.idempotency_check.signing import LOCAL_MERCHANT, MerchantHeader, SigningError, SigV4
from tools.idempotency_check.target import InvalidTarget, Target

from .conftest import scrub_aws


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://a1b2c3d4e5.execute-api.eu-west-3.amazonaws.com/v1", "eu-west-3"),
        ("https://a1b2c3d4e5.execute-api.us-gov-west-1.amazonaws.com/prod/", "us-gov-west-1"),
        ("https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/v1", "cn-north-1"),
        (
            "https://a1b2c3d4e5-vpce-0123456789abcdef0.execute-api.ap-southeast-2.vpce.amazonaws.com/v1",
            "ap-southeast-2",
        ),
        ("https://A1B2C3D4E5.EXECUTE-API.US-EAST-1.AMAZONAWS.COM", "us-east-1"),
        ("https://payments.example.com/v1", None),
        ("https://execute-api.us-east-1.amazonaws.com.evil.example", None),
        ("http://127.0.0.1:3000", None),
    ],
)
def test_region_is_read_from_an_execute_api_host_only(url: str, region: str | None) -> None:
    assert Target.parse(url).region() == region


def test_stage_path_is_kept_without_trailing_slash_and_prefixes_every_request() -> None:
    target = Target.parse("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1/")
    assert (target.scheme, target.port, target.base_path) == ("https", 443, "/v1")
    assert target.url("/payments") == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1/payments"


def test_host_header_names_the_port_only_when_it_is_not_the_default() -> None:
    assert Target.parse("http://127.0.0.1:3000").netloc == "127.0.0.1:3000"
    assert Target.parse("http://localhost").netloc == "localhost"
    assert Target.parse("https://example.com:443/v1").netloc == "example.com"


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "127.0.0.1:3000", "http://", "http://127.0.0.1:99999", "http://x/v1?stage=1"]
)
def test_unusable_base_urls_are_rejected(url: str) -> None:
    with pytest.raises(InvalidTarget):
        Target.parse(url)


def test_default_merchant_is_the_one_the_local_server_assumes() -> None:
    assert LOCAL_MERCHANT == SERVER_LOCAL_MERCHANT


@pytest.fixture
def env_credentials(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """Fake credentials in the environment only: botocore finds them first and looks nowhere else."""
    scrub_aws(monkeypatch)
    access, secret, token = f"AKIA{unique('k').upper()}", unique("secret"), unique("token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    return access, secret, token


API = Target.parse("https://a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com/v1")


def test_with_credentials_requests_are_signed_for_the_region_in_the_url(env_credentials: tuple[str, str, str]) -> None:
    chosen = signing.choose(API, local=False)
    assert isinstance(chosen, SigV4)
    assert chosen.region == "eu-central-1"
    assert chosen.credentials.get_frozen_credentials().access_key == env_credentials[0]


def test_explicit_region_wins_over_the_url(env_credentials: tuple[str, str, str]) -> None:
    chosen = signing.choose(API, local=False, region="sa-east-1")
    assert isinstance(chosen, SigV4) and chosen.region == "sa-east-1"


def test_local_flag_sends_the_merchant_header_even_with_credentials(env_credentials: tuple[str, str, str]) -> None:
    merchant = f"arn:aws:iam::000000000000:user/{unique('m')}"
    chosen = signing.choose(API, local=True, merchant=merchant)
    assert chosen == MerchantHeader(merchant)
    headers = chosen.headers(API, "GET", "/payments/x", {"Accept": "*/*"}, b"")
    assert headers == {"Accept": "*/*", "X-Merchant-Id": merchant}


def test_without_any_credentials_the_merchant_header_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment where botocore's whole chain finds nothing (instance metadata disabled: no network)
    scrub_aws(monkeypatch)
    # When / Then
    assert signing.choose(API, local=False) == MerchantHeader(LOCAL_MERCHANT)


def test_signing_without_a_known_region_is_a_usage_error(env_credentials: tuple[str, str, str]) -> None:
    custom_domain = Target.parse("https://payments.example.com/v1")
    with pytest.raises(SigningError, match="--region"):
        signing.choose(custom_domain, local=False, default_region=lambda: None)


def test_profile_region_is_used_when_the_host_names_none(env_credentials: tuple[str, str, str]) -> None:
    custom_domain = Target.parse("https://payments.example.com/v1")
    chosen = signing.choose(custom_domain, local=False, default_region=lambda: "ca-central-1")
    assert isinstance(chosen, SigV4) and chosen.region == "ca-central-1"

"""The Stripe API version is ours to choose (issue 19.6): pinned in the client, and an SDK upgrade that
moves the SDK's own default is seen here first (then: read Stripe's changelog, move the pin on purpose,
see docs/decisions/0141-stripe-api-version-and-create-parameters.md)."""

from __future__ import annotations

import stripe

from payments_service.processors.stripe import STRIPE_API_VERSION, StripeProcessor


def test_the_pinned_version_is_the_one_the_installed_sdk_was_built_for() -> None:
    assert stripe.api_version == STRIPE_API_VERSION, (
        f"stripe {stripe.VERSION} defaults to {stripe.api_version}; the adapter pins {STRIPE_API_VERSION}"
    )


def test_every_client_the_adapter_builds_sends_the_pinned_version() -> None:
    client = StripeProcessor(lambda: "sk_test_x")._client(0, 1.0)
    assert client._requestor._options.stripe_version == STRIPE_API_VERSION

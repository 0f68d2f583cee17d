"""The one-service loader (dal/one_service_loader.py): the same models as botocore's own loader, without its walk
of every service folder, parsed into plain dicts."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader
from botocore.session import get_session

from payments_service.dal.one_service_loader import OneServiceLoader, use_for


def _listed_while(build: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    listed: list[str] = []
    real = os.listdir

    def recording(path: str = ".") -> list[str]:
        listed.append(os.path.normpath(str(path)))
        return real(path)

    with monkeypatch.context() as patch:  # undoes this patch only: the no-sockets guard stays
        patch.setattr(os, "listdir", recording)
        build()
    return listed


@pytest.mark.parametrize("service", ["dynamodb", "sqs"])
def test_a_client_is_built_without_listing_every_service_botocore_ships(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    builtin = os.path.normpath(Loader.BUILTIN_DATA_PATH)

    def stock() -> None:
        get_session().create_client(service, region_name="us-east-1")

    def ours() -> None:
        session = get_session()
        use_for(session, service)
        session.create_client(service, region_name="us-east-1")

    assert builtin in _listed_while(stock, monkeypatch), "the probe no longer sees botocore's walk"
    listed = _listed_while(ours, monkeypatch)
    assert builtin not in listed
    assert listed, "the service's own folder is still looked at"
    assert all(path.startswith(os.path.join(builtin, service)) or not path.startswith(builtin) for path in listed)


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"])
def test_models_are_the_ones_botocore_loads_in_the_same_order_as_plain_dicts(type_name: str) -> None:
    ours = OneServiceLoader("dynamodb").load_service_model("dynamodb", type_name)
    stock = Loader().load_service_model("dynamodb", type_name)
    assert ours == stock
    assert type(ours) is dict and isinstance(stock, OrderedDict)  # the faster parse is in use
    assert list(ours) == list(stock)
    if type_name == "service-2":
        assert list(ours["shapes"]) == list(stock["shapes"])


def test_shared_data_is_the_same_as_botocores() -> None:
    for name in ("endpoints", "partitions", "sdk-default-configuration"):
        assert OneServiceLoader("dynamodb").load_data(name) == Loader().load_data(name)


def test_whether_a_model_type_exists_is_decided_as_botocore_decides_it() -> None:
    ours, stock = OneServiceLoader("sqs"), Loader()
    for type_name in ("service-2", "waiters-2", "no-such-type-1"):
        assert ("sqs" in ours.list_available_services(type_name)) == ("sqs" in stock.list_available_services(type_name))
    with pytest.raises(UnknownServiceError):
        ours.load_service_model("sqs", "waiters-2")  # sqs ships no waiters: botocore refuses it the same way
    with pytest.raises(UnknownServiceError):
        stock.load_service_model("sqs", "waiters-2")


def test_a_service_it_was_not_made_for_is_unknown_to_it() -> None:
    with pytest.raises(UnknownServiceError):
        OneServiceLoader("dynamodb").load_service_model("sqs", "service-2")


def test_aws_data_path_comes_first_as_botocore_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRA_MODELS", str(tmp_path))
    loader = OneServiceLoader("dynamodb", os.pathsep.join(["$EXTRA_MODELS", "~/models"]))
    assert loader.search_paths[:2] == [str(tmp_path), os.path.expanduser("~/models")]
    assert loader.search_paths[2:] == Loader().search_paths


def test_the_functions_clients_are_built_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from payments_service.dal import clients

    monkeypatch.setattr(clients, "_clients", {})
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for client in (clients.dynamodb_client(), clients.sqs_client()):
        assert isinstance(client._loader, OneServiceLoader)


def test_it_fits_the_botocore_we_test_with_and_steps_aside_where_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from payments_service.dal import one_service_loader

    assert one_service_loader.FITS, "the pinned botocore changed its loader: the cold start lost about 20 ms"
    monkeypatch.setattr(one_service_loader, "FITS", False)
    session = get_session()
    use_for(session, "dynamodb")
    assert type(session.get_component("data_loader")) is Loader
    assert session.create_client("dynamodb", region_name="us-east-1").meta.service_model.service_name == "dynamodb"

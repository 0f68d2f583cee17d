"""botocore's model loader, made for a session that builds one client. Hand-written: botocore has no such option.

Two costs of every cold start that botocore pays for generality (about 21 ms of one client build, decision 0213):
- before it loads a model, it lists every service it ships (about 460 folders, once per model type) only to
  reject an unknown name (boto/botocore#3687, still open, removes it). A session of ours builds one client, so
  only that service's own folder is looked at, and whether it has a model of a type is decided as botocore does;
- it parses its JSON into OrderedDicts, for the key order Python 2 dicts lacked: four times slower on the 1.2 MB
  endpoints.json than plain dicts, which keep that order. Nothing in botocore needs more of them than order.

On Lambda, botocore is the runtime's (decision 0015), not the version tests run: where its loader is not shaped
as these overrides assume, botocore's own is kept. That costs the time saved, never a call (decision 0213).
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import DataNotFoundError
from botocore.loaders import JSONFileLoader, Loader


class PlainDictJSONFileLoader(JSONFileLoader):  # type: ignore[misc]  # botocore ships no types
    def _load_file(self, full_path: str, open_method: Any) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))


class OneServiceLoader(Loader):  # type: ignore[misc]
    FILE_LOADER_CLASS = PlainDictJSONFileLoader

    def __init__(self, service: str, data_path: str | None = None) -> None:
        # data_path: AWS_DATA_PATH, read as botocore's own create_loader reads it
        extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)] if data_path else None
        super().__init__(extra_search_paths=extra)
        self._service = service

    def list_available_services(self, type_name: str) -> list[str]:
        try:
            self.list_api_versions(self._service, type_name)
        except DataNotFoundError:
            return []
        return [self._service]


def _fits_this_botocore() -> bool:
    load_file = getattr(JSONFileLoader, "_load_file", None)
    code = getattr(load_file, "__code__", None)
    return (
        code is not None
        and code.co_varnames[: code.co_argcount] == ("self", "full_path", "open_method")
        and getattr(Loader, "FILE_LOADER_CLASS", None) is JSONFileLoader
        and callable(getattr(Loader, "list_api_versions", None))
    )


FITS = _fits_this_botocore()


def use_for(session: Any, service: str) -> None:
    """Give `session` (a botocore session that is to build one `service` client) this loader, if it fits."""
    if FITS:
        loader = OneServiceLoader(service, session.get_config_variable("data_path"))
        session.register_component("data_loader", loader)

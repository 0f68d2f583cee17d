"""Links that resolve under the path the request came through (the stage, or a custom domain's base path)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def base_path(event: Mapping[str, Any]) -> str:
    """'/v1' on an execute-api URL, '/base' behind a custom domain mapping, '' when called at the root.

    API Gateway puts the path as the client sent it in requestContext.path and the path within the API
    in `path`; what precedes the latter is the prefix to keep."""
    inner = event.get("path") or ""
    outer = (event.get("requestContext") or {}).get("path") or ""
    if isinstance(inner, str) and isinstance(outer, str) and inner and outer.endswith(inner):
        return outer[: -len(inner)].rstrip("/")
    return ""

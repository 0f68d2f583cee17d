"""Where the checks go: base URL (scheme, host, port, stage path) and the AWS region its host names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# https://{api-id}.execute-api.{region}.amazonaws.com[.cn] and the private-API form {api-id}-{vpce-id}.execute-api...
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$")


class InvalidTarget(ValueError):
    """The base URL cannot be used (usage error)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    base_path: str  # "" or "/stage" without a trailing slash

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https"):
            raise InvalidTarget(f"base URL must start with http:// or https://, got {url!r}")
        if not parts.hostname:
            raise InvalidTarget(f"base URL has no host: {url!r}")
        if parts.query or parts.fragment:
            raise InvalidTarget(f"base URL must not carry a query or fragment: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:
            raise InvalidTarget(f"base URL has an invalid port: {url!r}") from error
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def netloc(self) -> str:
        """The Host header: the port only when it is not the scheme's default (what SigV4 signs too)."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.netloc}{self.path(path)}"

    def path(self, path: str) -> str:
        return self.base_path + path

    def region(self) -> str | None:
        """The region an API Gateway default endpoint names in its host; None for other hosts."""
        found = _EXECUTE_API_HOST.search(self.host.lower())
        return found.group(1) if found else None

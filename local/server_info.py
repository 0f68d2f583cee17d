"""Where a running `make run` publishes its endpoints, one small JSON file per API port, so `make enqueue`
(and anything else) finds the queue of the server on PORT. Written at start, removed at a clean stop; a
file left by a killed server is recognized by its dead pid."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from . import template

DIRECTORY = template.ROOT / ".aws-sam" / "local"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    api: str
    endpoint: str  # the embedded moto server: DynamoDB and SQS
    queue_url: str
    dead_letter_queue_url: str


def path_for(port: int, directory: Path = DIRECTORY) -> Path:
    return directory / f"server-{port}.json"


def publish(port: int, info: ServerInfo, directory: Path = DIRECTORY) -> Path:
    """Write this server's file (and remove those of servers that were killed, so they do not pile up)."""
    path = path_for(port, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("server-*.json"):
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            if not _alive(int(json.loads(stale.read_text(encoding="utf-8"))["pid"])):
                stale.unlink()
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)  # a reader never sees half a file
    return path


def withdraw(port: int, directory: Path = DIRECTORY) -> None:
    with contextlib.suppress(FileNotFoundError):
        path_for(port, directory).unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(port: int, directory: Path = DIRECTORY) -> ServerInfo | None:
    """The server running on `port`, or None (never started, stopped, or killed)."""
    try:
        info = ServerInfo(**json.loads(path_for(port, directory).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    return info if _alive(info.pid) else None

"""Stored item sizes, by DynamoDB's sizing rules, to check the cost model's "< 1 KB, 1 WRU" assumption."""

from __future__ import annotations

from typing import Any


def _value_size(value: dict[str, Any]) -> int:
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return (len(data.lstrip("-").replace(".", "").strip("0")) + 1) // 2 + 1
    if kind == "BOOL" or kind == "NULL":
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    return len(str(data).encode())


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def largest_items(client: Any, tables: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Largest item per label (bytes), scanning what the run stored: label -> (table, `id` substring, "" = any)."""
    sizes: dict[str, int] = {}
    for label, (table, marker) in tables.items():
        largest = 0
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if marker in item.get("id", {}).get("S", ""):
                    largest = max(largest, item_size(item))
        sizes[label] = largest
    return sizes

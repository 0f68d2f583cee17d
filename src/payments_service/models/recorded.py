"""The form an answer takes under its idempotency key: its typed fields as one compact JSON line, then the
response body byte for byte. The body is stored once, never as a string inside another JSON document, and
every answer, the first one included, is rendered from these same bytes.

Keys recorded in the earlier form (one JSON object, the body a string field named after the resource) are
still read: they stay live for the key retention (24 h by default) after the deploy that brings this form.
"""

from __future__ import annotations

import json
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

# Compact JSON escapes every newline inside a string: the first raw one ends the fields.
_END_OF_FIELDS = "\n"


class RecordedAnswer(BaseModel):
    """What a use case records: subclasses declare the typed fields; `body` is the response body, if any."""

    model_config = ConfigDict(frozen=True)
    EARLIER_BODY_FIELD: ClassVar[str]  # where the earlier form kept the body, as a JSON string

    body: str | None = Field(default=None, exclude=True)

    def to_record(self) -> str:
        fields = self.model_dump_json(exclude_none=True)
        return fields if self.body is None else fields + _END_OF_FIELDS + self.body

    @classmethod
    def from_record(cls, text: str) -> Self:
        fields, newline, body = text.partition(_END_OF_FIELDS)
        if newline:
            return cls.model_validate_json(fields).model_copy(update={"body": body})
        # Fields only (no body), or the earlier form: its body string is the bytes first answered.
        values = json.loads(text)
        return cls.model_validate({**values, "body": values.pop(cls.EARLIER_BODY_FIELD, None)})

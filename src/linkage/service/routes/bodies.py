"""How the OpenAPI document describes a request body that is a file."""

from __future__ import annotations

from typing import Any

__all__ = ["file_body"]


def file_body(*, also_json: bool = False) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose body is an encodings file
    (and, with ``also_json``, clkhash JSON too): FastAPI cannot see a body
    the route reads itself."""
    content: dict[str, Any] = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    if also_json:
        content["application/json"] = {"schema": {"type": "object"}}
    return {"requestBody": {"required": True, "content": content}}

"""Reading the YAML files people write by hand (agency mappings, the reveal
policy): strict about duplicate keys, and clear about where a file is wrong."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import yaml

from linkage.errors import Problem

__all__ = ["UniqueKeyLoader", "load_yaml_file"]


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key written twice.

    PyYAML keeps the last of two equal keys; in a hand-written configuration
    that could hide the value its author meant, so it is an error instead.
    """

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}; a key may appear once in a mapping",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml_file(
    path: Path,
    *,
    what: str,
    error: Callable[..., Exception],
    loader: type[yaml.SafeLoader] = UniqueKeyLoader,
    missing_hint: str = "Check the path given.",
) -> Any:
    """The document in ``path``, or ``error`` naming the file (as ``what``),
    the line and column, and the fix.

    ``error`` is called as ``error(summary, problems, hint=...)``.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(
            f"{what.capitalize()} {source} does not exist", [], hint=missing_hint
        ) from None
    except OSError as reading:
        raise error(
            f"Cannot read {what} {source}: {reading.strerror or reading}",
            [],
            hint="Check the path and the file's permissions.",
        ) from None
    except UnicodeDecodeError as decoding:
        raise error(
            f"{what.capitalize()} {source} is not UTF-8 text ({decoding.reason} at "
            f"byte {decoding.start})",
            [],
            hint=f"Save the {what} as UTF-8.",
        ) from None
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as parsing:
        raise error(
            f"{what.capitalize()} {source} is not valid YAML",
            [Problem(_yaml_message(parsing), source=source)],
            hint="Fix the YAML syntax at the line shown.",
        ) from None


def _yaml_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return str(problem)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"

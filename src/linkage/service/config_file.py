"""``linkage serve --config service.toml``: the service's settings in a file.

Every ``serve`` option may be written in the file, under its option name
(``data-dir`` or ``data_dir``); options given on the command line win over
the file, and the file over the defaults. Unknown keys are refused, naming
the key, so a typo never leaves a default silently in place. Secrets do not
belong here: the database URL's password goes in ``LINKAGE_DATABASE_URL``.

Example::

    data-dir = "/srv/linkage"
    host = "0.0.0.0"
    port = 8443
    ssl-certfile = "/etc/linkage/cert.pem"
    ssl-keyfile = "/etc/linkage/key.pem"
    token-lifetime = "90d"
    max-upload-bytes = 2147483648
    log-format = "json"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from linkage.errors import InputError, Problem

__all__ = ["ServiceConfigError", "load_service_config"]


class ServiceConfigError(InputError):
    """The service's configuration file cannot be read or has unknown keys."""


def load_service_config(path: Path, allowed: Iterable[str]) -> dict[str, Any]:
    """The file's settings, keyed by option parameter name (``data_dir``).

    ``allowed`` are the parameter names the file may set.

    Raises:
        ServiceConfigError: the file is missing, not TOML, or has a key that
            is not an allowed option (every such key is listed).
    """
    source = str(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServiceConfigError(
            f"Configuration file {source} does not exist",
            [],
            hint="Check the path given to --config.",
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ServiceConfigError(
            f"Configuration file {source} is not readable TOML: {error}",
            [],
            hint="Write it as `key = value` lines (TOML).",
        ) from None
    known = set(allowed)
    settings: dict[str, Any] = {}
    problems = []
    for key, value in document.items():
        name = key.replace("-", "_")
        if name not in known or isinstance(value, dict):
            problems.append(
                Problem("not a `linkage serve` option", source=source, field=key)
            )
        else:
            settings[name] = value
    if problems:
        options = ", ".join(sorted(name.replace("_", "-") for name in known))
        raise ServiceConfigError(
            f"Configuration file {source} has {len(problems)} unknown key(s)",
            problems,
            hint=f"The keys are the options of `linkage serve`: {options}.",
        )
    return settings

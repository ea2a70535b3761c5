"""The `linkage` command line: one click group, one module per area.

Every command is a thin layer over the library: it parses options, calls the
core, and turns a :class:`~linkage.errors.LinkageError` into a clear message on
stderr and exit status 1.
"""

from __future__ import annotations

from typing import Any

import click

from linkage import __version__
from linkage.errors import LinkageError


class LinkageGroup(click.Group):
    """A click group that reports our errors as messages, not tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LinkageError as error:
            raise click.ClickException(str(error)) from error


@click.group(cls=LinkageGroup)
@click.version_option(__version__, prog_name="linkage")
def main() -> None:
    """Privacy-preserving record linkage between agencies.

    \b
    At the agency:   keygen, schema check, encode, vault resolve,
                     upload, results
    Operator:        match, evaluate, serve, project create|add-member,
                     run start|status|wait, audit export
    Investigator:    keygen --investigator, reveal request|status|open
    Approver:        reveal approve|deny|status
    Agency reveals:  reveal pending|fulfil|refuse
    Oversight:       audit verify|report
    Demo:            demo
    """


def _register() -> None:
    # Imported here so each module can import `main`'s helpers without cycles.
    from linkage.cli import (
        audit,
        client,
        demo,
        encode,
        evaluate,
        keys,
        mapping,
        match,
        privacy,
        reveal,
        schema,
        serve,
        vault,
    )

    main.add_command(keys.keygen)
    main.add_command(schema.schema)
    main.add_command(encode.encode)
    main.add_command(mapping.mapping)
    main.add_command(vault.vault)
    main.add_command(match.match)
    main.add_command(evaluate.evaluate)
    main.add_command(demo.demo)
    main.add_command(serve.serve)
    main.add_command(client.project)
    main.add_command(client.upload)
    main.add_command(client.run)
    main.add_command(client.results)
    main.add_command(reveal.reveal)
    main.add_command(audit.audit)
    main.add_command(privacy.privacy_check_command)


_register()

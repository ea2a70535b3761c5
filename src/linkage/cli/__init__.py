"""The `linkage` command line: one click group, one module per area.

Every command is a thin layer over the library: it parses options, calls the
core, and turns a :class:`~linkage.errors.LinkageError` into a clear message on
stderr and exit status 1.

The group is lazy: a command's module is imported only when that command runs
(or shows its own help), so ``linkage --help``, ``--version`` and light commands
such as ``keygen`` never pay for the service, pandas, SciPy or numba.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
from typing import Any, NamedTuple

import click

from linkage import __version__
from linkage.errors import LinkageError


class LazyCommand(NamedTuple):
    """Where a top-level command lives, and the line ``linkage --help`` shows."""

    module: str
    attribute: str
    short_help: str
    #: The command multiplies matrices (the privacy attackers do). Otherwise
    #: numpy's OpenBLAS is given one thread: at import it starts one per core,
    #: which spin for about 0.1 s waiting for work that never comes, taking a
    #: core from a command's own threads (a tenth of a large encode).
    uses_blas: bool = False


#: Every top-level command. The short help is the one place the overview's line
#: is written: ``linkage --help`` shows it without importing the module.
COMMANDS: dict[str, LazyCommand] = {
    "audit": LazyCommand(
        "linkage.cli.audit",
        "audit",
        "The tamper-evident audit log: export, verify, report, ledger.",
    ),
    "changes": LazyCommand(
        "linkage.cli.changes",
        "changes",
        "Send changes to a linked project, and read what changed (party).",
    ),
    "db": LazyCommand(
        "linkage.cli.db",
        "db",
        "The service's database schema: its version, and upgrading it.",
    ),
    "demo": LazyCommand(
        "linkage.cli.demo",
        "demo",
        "Run a linkage end to end on four synthetic agencies.",
    ),
    "encode": LazyCommand(
        "linkage.cli.encode",
        "encode",
        "Encode RECORDS.csv into CLKs with fresh random pseudonyms.",
    ),
    "evaluate": LazyCommand(
        "linkage.cli.evaluate",
        "evaluate",
        "Compare match groups with the truth: precision and recall.",
    ),
    "keygen": LazyCommand(
        "linkage.cli.keys",
        "keygen",
        "Write a new random key (256 bits, base64url) to FILE.",
    ),
    "lookup": LazyCommand(
        "linkage.cli.lookup",
        "lookup",
        "Is this person known? Look up a few ENCODINGS in the linked records.",
    ),
    "mapping": LazyCommand(
        "linkage.cli.mapping",
        "mapping",
        "Try an agency mapping on its export before encoding.",
    ),
    "match": LazyCommand(
        "linkage.cli.match",
        "match",
        "Link the ENCODINGS of two or more agencies (or dedup one).",
    ),
    "privacy-check": LazyCommand(
        "linkage.cli.privacy",
        "privacy_check_command",
        "Attack ENCODINGS as someone without the secret would.",
        uses_blas=True,
    ),
    "project": LazyCommand(
        "linkage.cli.client",
        "project",
        "Create linkage projects on the service (operator).",
    ),
    "results": LazyCommand(
        "linkage.cli.client",
        "results",
        "Download your party's results from the completed run.",
    ),
    "reveal": LazyCommand(
        "linkage.cli.reveal",
        "reveal",
        "Reveal who is behind a match ID, only as the policy allows.",
    ),
    "run": LazyCommand(
        "linkage.cli.client",
        "run",
        "Start matching runs and follow them.",
    ),
    "schema": LazyCommand(
        "linkage.cli.schema",
        "schema",
        "Work with linkage schemas (clkhash linkage schema v3).",
    ),
    "serve": LazyCommand(
        "linkage.cli.serve",
        "serve",
        "Run the linkage service: projects, uploads, runs and results.",
    ),
    "upload": LazyCommand(
        "linkage.cli.client",
        "upload",
        "Upload your ENCODINGS file with your party token.",
    ),
    "vault": LazyCommand(
        "linkage.cli.vault",
        "vault",
        "Use your agency's pseudonym vault, which stays at the agency.",
    ),
}


_exit_registered = False


def _freeze_at_exit() -> None:
    """Have the interpreter's exit skip its collection of what is still alive.

    The last garbage collection at exit walks every object the process made;
    once numba or the service is loaded that is 0.1-0.2 s of every command.
    Freezing them first leaves only that walk out: exit handlers still run,
    and objects are still released as their modules are torn down.
    Registered once, so a process that runs many commands (the tests) freezes
    only as it ends.
    """
    global _exit_registered
    if not _exit_registered:
        atexit.register(gc.freeze)
        _exit_registered = True


class LinkageGroup(click.Group):
    """The top-level group: lazy commands, and our errors as messages.

    Follows click's documented ``LazyGroup`` pattern, with the overview written
    from :data:`COMMANDS` so that listing the commands imports none of them.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        _freeze_at_exit()
        return super().main(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if not entry.uses_blas:
            # Read when numpy is first imported, which the module does.
            os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        command = getattr(importlib.import_module(entry.module), entry.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.module}.{entry.attribute} is not a command")
        command.short_help = entry.short_help
        return command

    def format_commands(
        self, ctx: click.Context, formatter: click.HelpFormatter
    ) -> None:
        rows = [(name, COMMANDS[name].short_help) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
    At the agency:   keygen, schema check|harden, mapping preview, encode,
                     vault resolve, upload, results, lookup
    Operator:        match, evaluate, serve, db upgrade, project
                     create|add-member|reissue-token, run start|status|wait,
                     audit export
    Investigator:    keygen --investigator, reveal trust|request|status|open
    Approver:        keygen --signing, reveal approve|deny|status
    Agency reveals:  keygen --signing, reveal trust|pending|fulfil|refuse,
                     audit ledger
    Oversight:       audit verify|report
    Demo:            demo
    """

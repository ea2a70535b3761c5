"""Every command and every option says what it is for (datasette's rule)."""

from __future__ import annotations

import click
import pytest

from linkage.cli import main


def all_commands(
    group: click.Group, prefix: str = ""
) -> list[tuple[str, click.Command]]:
    # list_commands/get_command, not group.commands: the top group is lazy.
    context = click.Context(group)
    found = []
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        path = f"{prefix} {name}".strip()
        assert command is not None, f"`linkage {path}` does not load"
        assert command.name == name, f"`linkage {path}` loads {command.name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
    return found


COMMANDS = all_commands(main)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_and_options_are_documented(path: str, command: click.Command) -> None:
    """The command has a docstring and each option a help text."""
    assert command.help, f"`linkage {path}` has no help text"
    for parameter in command.params:
        if isinstance(parameter, click.Option) and not parameter.hidden:
            assert parameter.help, (
                f"`linkage {path}` option {parameter.name} has no help"
            )


def test_the_commands_the_guide_names_exist() -> None:
    """The agency and operator commands of this stage are all there."""
    names = {path for path, _ in COMMANDS}
    expected = {
        "keygen",
        "schema check",
        "schema harden",
        "encode",
        "vault resolve",
        "match",
        "evaluate",
        "demo",
    }
    assert expected <= names

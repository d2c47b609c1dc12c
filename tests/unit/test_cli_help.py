"""``merchstore --help`` reads whole on an 80-column terminal."""

from __future__ import annotations

from click.testing import CliRunner

from merchstore.cli import main


def test_every_commands_summary_is_whole_in_80_columns() -> None:
    shown = CliRunner().invoke(main, ["--help"], terminal_width=80)
    assert shown.exit_code == 0, shown.output
    commands = shown.output.split("Commands:", 1)[1].strip().splitlines()
    assert len(commands) == len(main.commands)
    for line in commands:
        assert not line.rstrip().endswith("..."), line
        assert len(line) <= 80, line

"""The command line as a whole: every subcommand's help shows every option's default."""

import argparse

import pytest

from layerpipe.cli import build_parser, main


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_documented_command_is_registered():
    assert {"schedule", "compare", "gantt", "train", "simulate", "generate", "verify", "build", "demo"} <= set(
        subcommands())


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_help_lists_every_option_with_its_default(name, capsys):
    parser = subcommands()[name]
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.required:
            continue
        assert action.help, f"{name} {action.option_strings}: no help text"
        # ArgumentDefaultsHelpFormatter appends "%(default)s" to exactly the options that have a default to show.
        assert "%(default)" in formatter._get_help_string(action) or "default" in action.help, \
            f"{name} {action.option_strings}: the help does not show the default"
        for option in action.option_strings:
            assert option in text
        assert formatter._expand_help(action).count("(default") <= 1, f"{name} {action.option_strings}: " \
            "the help says its default and the formatter adds another"
    assert "(default: None)" not in " ".join(text.split()), f"{name}: say what an unset option means instead of 'None'"


def test_top_level_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for name in subcommands():
        assert name in text

"""The README's commands and claims hold: every CLI command answers `--help` and is
listed; every command, option, setting, make target and module the README names exists;
its library example runs."""

import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from app.cli import app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS: dict[str, click.Command] = typer.main.get_command(app).commands


def section(title: str) -> str:
    """The README's text from heading `title` to the next heading of its level."""
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def first_block(text: str, language: str) -> str:
    return text.split(f"```{language}\n", 1)[1].split("```", 1)[0]


CLI_LINES = first_block(section("The command line"), "bash").splitlines()


def options(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_help_and_a_readme_line(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"}, prog_name="sleuth")
    assert result.exit_code == 0, result.output
    assert f"Usage: sleuth {name}" in result.output
    assert any(line.startswith(f"sleuth {name}") for line in CLI_LINES), \
        f"`sleuth {name}` is missing from the README's command list"


def test_sleuth_lists_its_commands() -> None:
    """The installed entry point, as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True,
                          text=True, timeout=60, env={"COLUMNS": "200", "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert all(re.search(rf"│ {name}\s", done.stdout) for name in COMMANDS), done.stdout


@pytest.mark.parametrize("line", CLI_LINES, ids=lambda line: " ".join(line.split()[:2]))
def test_readme_command_lines_name_real_commands_and_options(line: str) -> None:
    words = line.split("#", 1)[0].split()
    assert words[0] == "sleuth" and words[1] in COMMANDS, line
    command, rest = COMMANDS[words[1]], words[2:]
    if hasattr(command, "commands"):  # a group: `sleuth cluster status ...`
        assert rest and rest[0] in command.commands, line
        command, rest = command.commands[rest[0]], rest[1:]
    args = rest[:rest.index("--")] if "--" in rest else rest  # after --: arguments
    used = {w.split("=", 1)[0] for w in args if re.fullmatch(r"--?[a-z][\w-]*(=.*)?", w)}
    assert used <= options(command), line


def test_readme_option_claims() -> None:
    """'Every command but `ui` and `cluster` takes `--data DIR`'; '`sleuth up` takes
    `--collection`, `--api-port` and `--ui-port`'."""
    assert "Every command but `ui` and `cluster` takes `--data DIR`" in README
    assert all("--data" in options(c) for name, c in COMMANDS.items()
               if name not in ("ui", "cluster"))
    claim = re.search(r"`sleuth up` takes (.*?)\.", README).group(1)
    assert set(re.findall(r"`(--[\w-]+)`", claim)) <= options(COMMANDS["up"])


def test_settings_table_is_the_settings_and_toml_keys_are_their_lower_case_names(
        tmp_path, monkeypatch) -> None:
    table = section("Configuration").split("\n\n")[1]
    documented = {name.removeprefix("SLEUTH_").lower()
                  for name in re.findall(r"`(SLEUTH_[A-Z_]+)`", table)}
    assert documented == set(Settings.model_fields)
    config = tmp_path / "sleuth.toml"
    config.write_text('data_dir = "/srv/sleuth"\nwatch_collection = "inbox"\n')
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert (settings.data_dir, settings.watch_collection) == (Path("/srv/sleuth"), "inbox")


def test_make_targets_and_python_modules_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`?make (\w+)`?", README)):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target}"
    for module in set(re.findall(r"python -m ([\w.]+)", README)):
        assert find_spec(module) is not None, module


def test_library_example_runs(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    exec(first_block(section("The vector store as a library"), "python"), {})
    assert capsys.readouterr().out.strip()

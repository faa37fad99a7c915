"""The README's set-up commands are what CI runs: the test command appears verbatim in
.ci/run, so a change to one that is not made to the other fails here."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> dict:
    """Comment line -> the command under it, from the bash blocks of README's "Set up"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = {}
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        lines = [line for line in block.splitlines() if line.strip()]
        for comment, command in zip(lines[::2], lines[1::2]):
            assert comment.startswith("# ") and not command.startswith("#"), block
            commands[comment[2:]] = command
    return commands


def test_each_set_up_command_is_one_line_in_a_venv_with_apt_update_first():
    commands = setup_commands()
    assert len(commands) == 3, commands
    for command in commands.values():
        assert not command.rstrip().endswith("\\")  # one line to paste, no continuation
        assert command.index("apt-get update") < command.index("apt-get install")
        assert "python3-venv" in command and ". .venv/bin/activate" in command
        assert command.index(". .venv/bin/activate") < command.index("pip install")


def test_ci_runs_the_readme_test_command_verbatim():
    test_line = setup_commands()["install theon with its test tools and run the tests"]
    assert test_line.endswith("python -m pytest -q")
    assert "--index-url https://download.pytorch.org/whl/cpu" in test_line  # the CPU wheel
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_line in ci_lines

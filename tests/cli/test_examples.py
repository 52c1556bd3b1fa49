"""Every example's README command runs and does what its comment says."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, copy_example, run_cli

COMMAND = re.compile(r"^    ((?:\w+=\S+ )*)cognix (.+?)(?:\s+#\s*(prints|writes):?\s*(.*))?$")


def _commands(readme: Path) -> list[re.Match[str]]:
    return [m for line in readme.read_text().splitlines() if (m := COMMAND.match(line))]


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if (p / "cog.yaml").exists()))
def test_example_readme_commands(example: str, tmp_path: Path) -> None:
    work = tmp_path / example
    copy_example(example, work)
    commands = _commands(work / "README.md")
    assert commands, "each example's README shows its command"
    for m in commands:
        env = dict(pair.split("=", 1) for pair in m.group(1).split())
        result = run_cli(*shlex.split(m.group(2)), cwd=work, env=env)
        assert result.returncode == 0, result.stderr
        kind, expected = m.group(3), (m.group(4) or "").strip()
        if kind == "prints":
            shown = result.stdout.strip()
            assert (json.loads(shown) if shown.startswith("[") else shown) == (
                json.loads(expected) if expected.startswith("[") else expected
            )
        elif kind == "writes":
            assert (work / expected.split()[0]).is_file()


def test_blur_output_is_a_blurred_image(tmp_path: Path) -> None:
    from PIL import Image

    work = tmp_path / "blur"
    copy_example("blur", work)
    assert run_cli("predict", "-i", "image=@input.png", "-i", "radius=4", cwd=work).returncode == 0
    with Image.open(work / "input.png") as src, Image.open(work / "output.png") as out:
        assert out.size == src.size
        edge = (16, 24)  # the rectangle's left edge: sharp in the input, smeared in the output
        assert src.getpixel((edge[0] - 2, edge[1])) == (255, 255, 255)
        assert out.getpixel((edge[0] - 2, edge[1])) != (255, 255, 255)

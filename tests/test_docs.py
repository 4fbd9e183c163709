"""Every command in the README and docs/ runs.

The Markdown files' fenced blocks are read as GitHub shows them:

* a block whose fence has the line ``<!-- cheap -->`` directly above it (invisible on
  GitHub) is run: shell blocks (``sh``, ``bash``, ``console``: in ``console`` only the
  lines after ``$ ``) through ``bash -euo pipefail``, where ``seq2seq`` is this checkout's
  command (``python -m seq2seq`` of the interpreter running the tests); Python blocks
  through that interpreter. A file's cheap blocks run in order in one scratch directory,
  so a block can use what an earlier one wrote. Each must exit 0; with
  ``<!-- cheap: expect TEXT -->`` its output must also contain TEXT.
* every other shell block, and every inline code span that starts with ``seq2seq``, has
  each ``seq2seq COMMAND [SUBCOMMAND]`` it names answer ``--help`` with status 0, so a
  renamed or removed command fails here, and each recipe named by ``seq2seq train NAME``
  or ``seq2seq summary NAME`` exists in recipes/;
* every other Python block must compile, and each ``seq2seq`` name it imports must exist;
* every relative link between the files leads to a file, and an ``#anchor`` into a
  Markdown file to one of its headings.

docs/development.md describes the marker for writers of new pages.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted([REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")])
SHELL = {"sh", "bash", "console", "shell"}
PYTHON = {"python", "py"}
CHEAP = re.compile(r"^<!--\s*cheap(?::\s*expect\s+(?P<expect>.+?))?\s*-->$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
COMMAND_WORD = re.compile(r"^[a-z][a-z0-9-]*$")
BLOCK_SECONDS = 300


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    cheap: bool
    expect: str | None

    def __str__(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line} ({self.lang})"


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, with the cheap marker of the line above each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, body, end = len(opening["indent"]), [], index + 1
        while end < len(lines) and lines[end].strip() != "```":
            body.append(lines[end][indent:])
            end += 1
        marker = CHEAP.match(lines[index - 1].strip()) if index else None
        blocks.append(Block(page, index + 1, opening["lang"].lower(), "\n".join(body),
                            marker is not None, marker and marker["expect"]))
        index = end + 1
    return blocks


def prose(page: Path) -> str:
    """``page`` without its fenced blocks."""
    text = page.read_text(encoding="utf-8")
    return re.sub(r"^\s*```.*?^\s*```\s*$", "", text, flags=re.S | re.M)


BLOCKS = [block for page in PAGES for block in read_blocks(page)]


def test_pages_have_blocks():
    assert (REPO / "README.md") in PAGES and BLOCKS
    assert any(block.cheap for block in BLOCKS)


# --- cheap blocks: run -------------------------------------------------------------------

def shell_script(block: Block) -> str:
    if block.lang != "console":
        return block.text
    return "\n".join(line[2:] for line in block.text.splitlines() if line.startswith("$ "))


def run_block(block: Block, directory: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    if block.lang in PYTHON:
        command = [sys.executable, "-c", block.text]
    else:
        prelude = f'seq2seq() {{ {shlex.quote(sys.executable)} -m seq2seq "$@"; }}\n'
        command = ["bash", "-euo", "pipefail", "-c", prelude + shell_script(block)]
    return subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True,
                          timeout=BLOCK_SECONDS)


CHEAP_PAGES = sorted({block.page for block in BLOCKS if block.cheap})


@pytest.mark.parametrize("page", CHEAP_PAGES, ids=lambda page: page.name)
def test_cheap_blocks_run(page, tmp_path):
    for block in [b for b in BLOCKS if b.page == page and b.cheap]:
        assert block.lang in SHELL | PYTHON, f"{block}: a cheap block must be shell or python"
        done = run_block(block, tmp_path)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{block} exited {done.returncode}:\n{output[-3000:]}"
        if block.expect:
            assert block.expect in output, f"{block}: {block.expect!r} not in:\n{output[-3000:]}"


# --- other blocks: the commands they name exist --------------------------------------------

def logical_lines(text: str) -> list[str]:
    return re.sub(r"\\\n", " ", text).splitlines()


def named_commands(line: str) -> set[tuple[str, ...]]:
    """Each ``seq2seq WORD [WORD]`` in a shell line: the words up to the first that is not
    a command name (an option, a path, a placeholder)."""
    found = set()
    for segment in re.split(r"\|\|?|;|&&|\$\(|`", line.split(" #")[0]):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        for index, word in enumerate(words):
            if word.lstrip("$").strip() and Path(word).name == "seq2seq":
                path = []
                for following in words[index + 1: index + 3]:
                    if not COMMAND_WORD.match(following):
                        break
                    path.append(following)
                found.add(tuple(path))
                break
    return found


def commands_named() -> dict[tuple[str, ...], str]:
    """Every command path the pages name outside cheap blocks, with where it is named."""
    named: dict[tuple[str, ...], str] = {}
    for block in BLOCKS:
        if block.lang in SHELL and not block.cheap:
            for line in logical_lines(shell_script(block)):
                for path in named_commands(line):
                    named.setdefault(path, str(block))
    for page in PAGES:
        for span in re.findall(r"`(seq2seq(?: [^`]*)?)`", prose(page)):
            for path in named_commands(span):
                named.setdefault(path, f"{page.relative_to(REPO)} (inline)")
    return named


def help_of(path: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seq2seq", *path, "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_named_commands_answer_help():
    """The word after a command is checked as a subcommand only when the command is a
    group; otherwise it is the command's argument (``seq2seq train demo``)."""
    checked: dict[tuple[str, ...], subprocess.CompletedProcess] = {}
    failures = []
    for path, where in sorted(commands_named().items()):
        for depth in range(len(path) + 1):
            prefix = path[:depth]
            if depth and not is_subcommand(checked[prefix[:-1]], prefix[-1]):
                break
            if prefix not in checked:
                checked[prefix] = help_of(prefix)
            if checked[prefix].returncode != 0:
                failures.append(f"{where}: seq2seq {' '.join(prefix)} --help exited "
                                f"{checked[prefix].returncode}: {checked[prefix].stderr[-300:]}")
                break
    assert len(checked) > 5
    assert not failures, "\n".join(failures)


def added_by_its_page(where: str, recipe: str) -> bool:
    """Whether the page naming a recipe is the one that tells the reader to add its file
    (docs/adding-a-task.md adds ``recipes/tagging.toml``)."""
    page = REPO / where.split(" ")[0].split(":")[0]
    return page.is_file() and f"`recipes/{recipe}.toml`" in page.read_text(encoding="utf-8")


def test_named_recipes_exist():
    """``seq2seq train NAME`` and ``seq2seq summary NAME``: NAME is a recipe in recipes/,
    or one whose file the same page has the reader add."""
    missing = [f"{where}: seq2seq {' '.join(path)}: no recipes/{path[1]}.toml"
               for path, where in sorted(commands_named().items())
               if len(path) == 2 and path[0] in ("train", "summary")
               and not (REPO / "recipes" / f"{path[1]}.toml").exists()
               and not added_by_its_page(where, path[1])]
    assert not missing, "\n".join(missing)


def is_subcommand(command_help: subprocess.CompletedProcess, word: str) -> bool:
    """Whether the word after a command is a subcommand: the command is a group (its
    ``--help`` lists ``Commands:``), whose every word is a subcommand."""
    return "Commands:" in command_help.stdout


# --- other Python blocks: compile, and their seq2seq imports exist ------------------------

def seq2seq_imports(tree: ast.AST) -> list[tuple[str, str | None]]:
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "seq2seq":
            imports += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            imports += [(alias.name, None) for alias in node.names
                        if alias.name.split(".")[0] == "seq2seq"]
    return imports


def test_python_blocks_compile_and_import():
    imports = set()
    for block in BLOCKS:
        if block.lang in PYTHON:
            tree = compile(block.text, str(block), "exec", ast.PyCF_ONLY_AST)
            imports |= {(module, name, str(block)) for module, name in seq2seq_imports(tree)}
    check = (
        "import importlib, sys\n"
        "failures = []\n"
        f"for module, name, where in {sorted(imports)!r}:\n"
        "    try:\n"
        "        loaded = importlib.import_module(module)\n"
        "    except ImportError as error:\n"
        "        failures.append(f'{where}: import {module}: {error}')\n"
        "        continue\n"
        "    if name is None or name == '*' or hasattr(loaded, name):\n"
        "        continue\n"
        "    try:\n"
        "        importlib.import_module(module + '.' + name)\n"
        "    except ImportError:\n"
        "        failures.append(f'{where}: from {module} import {name}: no such name')\n"
        "print('\\n'.join(failures))\n"
        "sys.exit(bool(failures))\n"
    )
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


# --- links ---------------------------------------------------------------------------------

def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in prose(page).splitlines()
            if re.match(r"^#{1,6} ", line)}


def test_relative_links_resolve():
    failures = []
    for page in PAGES:
        text = re.sub(r"`[^`\n]*`", "", prose(page))
        for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            file_part, _, anchor = target.partition("#")
            resolved = (page.parent / file_part).resolve() if file_part else page
            if not resolved.exists():
                failures.append(f"{page.relative_to(REPO)}: {target}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                failures.append(f"{page.relative_to(REPO)}: {target}: no such heading")
    assert not failures, "\n".join(failures)


# --- the static site -----------------------------------------------------------------------

def test_mkdocs_builds_strict(tmp_path):
    """``mkdocs build --strict`` builds the pages as a site (mkdocs.yml), where mkdocs is
    installed (the dev extras install it)."""
    pytest.importorskip("mkdocs")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]

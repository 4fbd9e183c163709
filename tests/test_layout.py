"""The tests mirror the code: ``tests/<package>/test_<module>.py`` tests
``seq2seq/<package>/<module>.py`` (or the package ``<module>/``), optionally with a topic
after the module's name (``tests/core/test_recurrent_masks.py``) and ``_slow`` last for
the slow tests; ``tests/<package>/test_<package>.py`` tests the package as a whole (what
holds for all its modules); ``tests/scripts/test_<script>.py`` tests
``scripts/<script>.py``. A test module imports ``tests.helpers`` and no other test
module."""

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# test modules named for no module, and why
NAMED_FOR_NO_MODULE = {
    "test_layout.py": "this file: the layout of tests/",
    "test_docs.py": "the README's and docs/' commands",
    "test_recipes_reference.py": "docs/recipes.md, generated from the recipe dataclasses",
}
SUPPORT = {"__init__.py", "conftest.py", "helpers.py"}


def all_test_files():
    return sorted(path for path in TESTS.rglob("test_*.py") if "__pycache__" not in path.parts)


def exists(folder: Path, name: str) -> bool:
    """``name`` is a module or a package in ``folder``."""
    return ((folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()
            or (folder / name).is_dir())


def module_named_by(path: Path) -> str | None:
    """The module ``path`` is named for (``core/recurrent``), or None."""
    package = path.parent.relative_to(TESTS).parts
    words = path.stem.removeprefix("test_").removesuffix("_slow").split("_")
    if package[:1] == ("scripts",):
        folder, prefix = ROOT / "scripts", ()
    else:
        folder, prefix = ROOT / "seq2seq" / Path(*package), package
        if package and path.stem.removeprefix("test_") == package[-1]:
            return "/".join(package)  # the package as a whole
    for end in range(len(words), 0, -1):  # the longest name first: keras_import, not keras
        name = "_".join(words[:end])
        relative = "/".join((*prefix, name))
        if exists(folder, name):
            return relative
    return None


@pytest.mark.parametrize("path", all_test_files(), ids=lambda p: str(p.relative_to(TESTS)))
def test_a_test_module_is_named_for_the_module_it_tests(path):
    if path.parent == TESTS and path.name in NAMED_FOR_NO_MODULE:
        return
    assert module_named_by(path), (
        f"{path.relative_to(ROOT)}: no seq2seq/<package>/<module>.py (or scripts/<script>.py) "
        "of that name; name it tests/<package>/test_<module>[_<topic>][_slow].py")


@pytest.mark.parametrize("path", [p for p in all_test_files() if p.stem.endswith("_slow")],
                         ids=lambda p: str(p.relative_to(TESTS)))
def test_a_slow_test_module_marks_its_tests_slow(path):
    assigned = [node for node in ast.parse(path.read_text(encoding="utf-8")).body
                if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "pytestmark" for t in node.targets)]
    assert assigned and "pytest.mark.slow" in ast.unparse(assigned[0].value), path


def test_every_folder_of_tests_is_a_package_and_holds_only_tests():
    """Each folder has an ``__init__.py``, so that two folders may hold test modules of the
    same name (tests/cli/test_mnist.py, tests/data/test_mnist.py)."""
    for folder in [TESTS, *(p for p in TESTS.rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__":
            continue
        assert (folder / "__init__.py").is_file(), folder
        for file in folder.glob("*.py"):
            assert file.name.startswith("test_") or (folder == TESTS and file.name in SUPPORT) \
                or file.name == "__init__.py", f"{file}: not a test module; share code " \
                "through tests/helpers.py or a conftest.py fixture"


def imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):  # from tests import helpers: tests.helpers
            base = "." * node.level + (node.module or "")
            names += ([f"{base}.{a.name}".replace("..", ".") for a in node.names]
                      if node.module in (None, "tests") else [base])
    return names


@pytest.mark.parametrize("path", [*all_test_files(), TESTS / "conftest.py"],
                         ids=lambda p: str(p.relative_to(TESTS)))
def test_a_test_module_imports_no_other_test_module(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in imported_modules(tree):
        test_code = name.startswith(".") or name == "tests" or name.startswith("tests.")
        assert not test_code or name == "tests.helpers", \
            f"{path.relative_to(ROOT)} imports {name}: take it from tests.helpers"

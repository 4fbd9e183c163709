"""seq2seq.base and seq2seq.runtime import no torch: each is imported in a fresh
interpreter where importing torch fails, and what it loaded is listed."""

import importlib.util
import subprocess
import sys
import textwrap

import pytest

BLOCK_TORCH = """
    import importlib, pkgutil, sys

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is not available here")
            return None

    sys.meta_path.insert(0, NoTorch())
"""


def loaded_after(imports: str) -> dict[str, list[str]]:
    """The seq2seq modules, and which of torch, numpy and onnxruntime, a fresh interpreter
    has loaded after running ``imports`` with torch blocked."""
    script = textwrap.dedent(BLOCK_TORCH) + textwrap.dedent(imports) + textwrap.dedent("""
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] == "seq2seq")))
        print(",".join(m for m in ("torch", "numpy", "onnxruntime") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    modules, libraries = result.stdout.splitlines()[-2:]
    return {"seq2seq": modules.split(","), "libraries": libraries.split(",") if libraries else []}


def test_every_module_of_the_base_imports_only_the_base_and_no_array_library():
    loaded = loaded_after("""
        import seq2seq.base
        for module in pkgutil.iter_modules(seq2seq.base.__path__):
            importlib.import_module(f"seq2seq.base.{module.name}")
    """)
    assert {"seq2seq.base.errors", "seq2seq.base.files", "seq2seq.base.tokenizers",
            "seq2seq.base.search_settings", "seq2seq.base.results"} <= set(loaded["seq2seq"])
    assert all(m == "seq2seq" or m.startswith("seq2seq.base") for m in loaded["seq2seq"])
    assert loaded["libraries"] == []  # not even numpy


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                    reason="the runtime's model needs onnxruntime")
def test_every_module_of_the_runtime_imports_only_the_runtime_and_the_base():
    loaded = loaded_after("""
        import seq2seq.runtime
        for module in pkgutil.walk_packages(seq2seq.runtime.__path__, "seq2seq.runtime."):
            importlib.import_module(module.name)
        from seq2seq.runtime import OnnxTranslator, UserError
    """)
    assert {"seq2seq.runtime.onnx_translator", "seq2seq.runtime.search.beam",
            "seq2seq.base.tokenizers"} <= set(loaded["seq2seq"])
    assert all(m == "seq2seq" or m.startswith(("seq2seq.runtime", "seq2seq.base"))
               for m in loaded["seq2seq"])
    assert "torch" not in loaded["libraries"]


def test_the_old_import_paths_of_the_error_are_the_base_s():
    from seq2seq.base.errors import UserError
    from seq2seq.errors import UserError as from_errors
    from seq2seq.runtime import UserError as from_runtime

    assert from_errors is UserError and from_runtime is UserError

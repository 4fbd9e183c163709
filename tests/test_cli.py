"""The command line (seq2seq.cli): version and help, without importing torch; importing
seq2seq sets a larger oneDNN kernel cache."""


from seq2seq import __version__
from tests.helpers import run_cli


def test_version_and_help():
    result = run_cli("--version")
    assert result.exit_code == 0 and __version__ in result.output
    result = run_cli("--help")
    assert result.exit_code == 0 and "bench" in result.output


def test_help_and_version_do_not_import_torch():
    import subprocess
    import sys

    for argument in ("--help", "--version"):
        script = ("import sys\nfrom seq2seq.cli import main\n"
                  f"try:\n    main([{argument!r}])\nexcept SystemExit:\n    pass\n"
                  "assert 'torch' not in sys.modules, 'torch was imported'\n")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    listed = run_cli("--help").output
    for alias in ("fill-train", "fill-eval"):
        assert alias in listed
    mnist = run_cli("mnist", "--help").output
    assert "predict" in mnist and "train" in mnist and "eval" in mnist


def test_import_sets_a_larger_onednn_kernel_cache_and_keeps_a_users_value():
    """oneDNN reads ONEDNN_PRIMITIVE_CACHE_CAPACITY when it first runs, so importing
    seq2seq sets it (torch has no getter: a fresh interpreter reads the environment)."""
    import os
    import subprocess
    import sys

    from seq2seq import ONEDNN_CACHE_CAPACITY

    script = "import os, seq2seq; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    for users, expected in ((None, ONEDNN_CACHE_CAPACITY), ("7", "7")):
        env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
        if users is not None:
            env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = users
        result = subprocess.run([sys.executable, "-c", script], env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
    assert int(ONEDNN_CACHE_CAPACITY) > 1024  # oneDNN's own default

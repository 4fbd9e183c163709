"""``translate`` and ``fill`` on inputs of any size: lazily read, written chunk by chunk, lines
split on newlines only, over-long and hopeless lines handled; sampling from the command
line and the API; progress as plain lines in logs."""

import io
import json
import os
import subprocess
import sys
import time

import pytest

from seq2seq.api import Translator
from seq2seq.errors import UserError
from seq2seq.progress import PlainProgress
from tests.helpers import FAST, PAIRS, assert_one_line_error, run_cli


@pytest.fixture
def run_dir(trained_run):
    return trained_run


def translate(run_dir, *arguments, input=None):
    return run_cli("translate", str(run_dir), *arguments, input=input)


def test_lines_split_on_newlines_only(run_dir):
    lines = ["Go.\u2028Run!", "Hi.\x0cWow!", "Stop!\u0085", "Wait!\r"]
    result = translate(run_dir, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    outputs = result.stdout.split("\n")[:-1]
    assert len(outputs) == 4
    translator = Translator.from_pretrained(run_dir)
    assert outputs == translator.translate([*lines[:3], "Wait!"])  # "\r\n" ends a line too


def test_a_bad_byte_names_its_line(run_dir, tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"Go.\nHi.\n\xff oops\n")
    result = translate(run_dir, "--input", str(path))
    assert_one_line_error(result, f"{path}:3: expected UTF-8 text, got byte 0xff")


def test_an_over_long_line_gets_an_empty_line_and_a_warning(run_dir):
    translator = Translator.from_pretrained(run_dir)
    longest = json.loads((run_dir / "checkpoints" / "best" / "training_lengths.json")
                         .read_text())["longest_source_tokens"]
    assert translator.max_input_len == 4 * longest
    long = "Go. " * longest + "Go."  # 4 tokens per "Go. ": over 4x the longest
    result = translate(run_dir, input=f"Hi.\n{long}\nGo.\n")
    assert result.exit_code == 0, result.output
    outputs = result.stdout.split("\n")[:-1]
    assert outputs[1] == "" and outputs[0] and outputs[2]
    assert "warning: <stdin>:2:" in result.stderr and "over --max-input-len" in result.stderr
    records = [json.loads(line) for line in translate(
        run_dir, "--format", "jsonl", input=f"Hi.\n{long}\n").stdout.splitlines()]
    assert "untranslated" not in records[0] and records[0]["hypotheses"]
    assert records[1] == {"source": long, "hypotheses": [], "untranslated": "too long"}
    unknown = translate(run_dir, input=f"Ω{long}\nΩ\n")  # each line encoded once
    assert "warning: <stdin>:1:" in unknown.stderr
    assert "note: 2 unknown source symbol(s)" in unknown.stderr
    with pytest.warns(UserWarning, match=r"1 sentence\(s\) left untranslated \(over "
                      r"max_input_len \d+ tokens\), first: index 1"):
        assert translator.translate(["Go.", long])[1] == ""
    allowed = translate(run_dir, "--max-input-len", "0", input=f"{long}\n")
    assert allowed.exit_code == 0 and allowed.stdout.strip() != ""
    assert "over --max-input-len" not in allowed.stderr


def test_a_search_that_finds_nothing_gives_an_empty_line_and_a_warning(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, symlinks=True)
    symbols = len(Translator.from_pretrained(copy).target)
    config = copy / "checkpoints" / "best" / "config.json"
    recipe = json.loads(config.read_text())
    # no token twice, and no eos before more tokens than there are symbols: impossible
    recipe["decode"].update(min_len=symbols, no_repeat_ngram=1, max_len_ratio=0.0,
                            max_len_offset=symbols + 5)
    config.write_text(json.dumps(recipe))
    for beam in ("1", "3"):
        result = translate(copy, "--beam", beam, input="Go.\n\nHi.\n")
        assert result.exit_code == 0, result.output
        assert result.stdout == "\n\n\n"
        assert "warning: <stdin>:1: the search found no hypothesis" in result.stderr
        assert "warning: <stdin>:3: the search found no hypothesis" in result.stderr
        assert "Traceback" not in result.output
    with pytest.warns(UserWarning, match="2 sentence.*the search found no hypothesis"):
        assert Translator.from_pretrained(copy).translate(["Go.", "", "Hi."]) == ["", "", ""]
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("Go.\tVa !\nHi.\tSalut.\n", encoding="utf-8")
    scored = run_cli("evaluate", str(copy), "--data", str(pairs), "--metrics", "exact")
    assert scored.exit_code == 0, scored.output  # nothing found scores as ""
    assert "Traceback" not in scored.output


def test_translate_streams_its_output_before_the_input_ends(run_dir):
    """The first chunk's translations come out while the input is still open."""
    process = subprocess.Popen([sys.executable, "-m", "seq2seq", "translate", str(run_dir),
                                "--batch-size", "4"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunk = 8 * 4  # CHUNK_BATCHES batches of --batch-size lines
    process.stdin.write(b"Go.\n" * chunk)
    process.stdin.flush()
    first = process.stdout.readline()  # blocks until the first chunk is written
    assert first.strip()
    process.stdin.write(b"Hi.\n" * 5)
    process.stdin.close()
    rest = process.stdout.read().splitlines()
    assert process.wait(timeout=60) == 0
    assert len(rest) == chunk - 1 + 5


def test_a_line_typed_at_a_pause_is_translated_at_once(run_dir):
    """Input that stops coming (a person at a terminal, a slow producer) is translated as
    far as it has come, without waiting for a full chunk or the end of the input."""
    import select

    process = subprocess.Popen([sys.executable, "-m", "seq2seq", "translate", str(run_dir)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    translator = Translator.from_pretrained(run_dir)
    try:
        for line in ("Go.", "Hi."):
            process.stdin.write(line.encode() + b"\n")
            process.stdin.flush()  # one line of a chunk of 2,048, and the input stays open
            assert select.select([process.stdout], [], [], 120)[0], "no output for the line"
            assert process.stdout.readline().decode().rstrip("\n") == \
                translator.translate([line])[0]
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()


def test_pauses_end_a_chunk_early_and_files_read_in_full_chunks(tmp_path):
    import threading

    from seq2seq.data.files import chunks, stream_lines

    read, write = os.pipe()
    with open(read, "rb") as stream:
        found = chunks(stream_lines(stream, "pipe", pauses=True), 100)
        os.write(write, b"a\nb\r\nc\n")
        got = []
        reader = threading.Thread(target=lambda: got.append(next(found)), daemon=True)
        reader.start()
        reader.join(30)
        assert got == [["a", "b", "c"]]  # the pipe is still open: a pause, not the end
        def finish():  # a last line longer than the pipe holds (and than one read)
            with open(write, "wb") as out:
                out.write(b"d\n" + b"e" * 100_000)

        writer = threading.Thread(target=finish, daemon=True)
        writer.start()
        rest = list(found)
        writer.join(30)
        assert [line for chunk in rest for line in chunk] == ["d", "e" * 100_000]
    path = tmp_path / "lines.txt"
    path.write_bytes(b"1\n2\n3\n4\n5")
    with path.open("rb") as stream:
        assert list(chunks(stream_lines(stream, str(path), pauses=True), 2)) == \
            [["1", "2"], ["3", "4"], ["5"]]


def peak_memory_of_translate(run_dir, lines: bytes) -> tuple[int, float, bytes]:
    """(peak resident kB, seconds, stdout) of `seq2seq translate` reading ``lines``: a
    fresh intermediate process waits for it and reads its children's peak."""
    script = ("import resource, subprocess, sys\n"
              "done = subprocess.run(sys.argv[1:], stdin=sys.stdin)\n"
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
              "sys.exit(done.returncode)")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script, sys.executable, "-m", "seq2seq",
                             "translate", str(run_dir), "--batch-size", "512"], input=lines,
                            capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    peak = int(result.stderr.decode().strip().splitlines()[-1])
    return peak, time.perf_counter() - started, result.stdout


@pytest.mark.slow
def test_a_million_lines_run_in_bounded_memory(run_dir):
    """1,000,000 short lines through `translate` peak within 64 MB of 24,000 lines (about
    280 MB both, on 2 cores: torch, the model and one chunk), under 600 MB in any case."""
    one_line_each = b"".join(src.encode() + b"\n" for src, _ in PAIRS)
    small, _, _ = peak_memory_of_translate(run_dir, one_line_each * 2000)
    lines = one_line_each * (1_000_000 // len(PAIRS) + 1)
    peak, seconds, stdout = peak_memory_of_translate(run_dir, lines)
    count = lines.count(b"\n")
    assert stdout.count(b"\n") == count
    print(f"{count:,} lines in {seconds:.0f} s, peak {peak / 1024:.0f} MB "
          f"(24,000 lines: {small / 1024:.0f} MB)")
    assert peak < small + 64 * 1024 and peak < 600 * 1024


def test_sampling_from_the_command_line_and_the_api(run_dir):
    lines = "Go.\nHi.\nI see.\n"
    first = translate(run_dir, "--sample", "--seed", "3", "--temperature", "1.5", input=lines)
    again = translate(run_dir, "--sample", "--seed", "3", "--temperature", "1.5", input=lines)
    assert first.exit_code == 0, first.output
    assert first.stdout == again.stdout
    draws = {translate(run_dir, "--sample", "--seed", str(seed), "--temperature", "3",
                       input=lines).stdout for seed in range(6)}
    assert len(draws) > 1  # the seed changes the draws
    greedy = translate(run_dir, "--sample", "--top-k", "1", input=lines)
    assert greedy.stdout == translate(run_dir, input=lines).stdout  # top-1 sampling is greedy
    translator = Translator.from_pretrained(run_dir)
    api = translator.translate(["Go.", "Hi.", "I see."], sample=True, temperature=1.5, seed=3)
    assert api == first.stdout.split("\n")[:-1]
    with pytest.raises(UserError, match="seed: applies only to sampling"):  # not ignored
        translator.translate(["Go."], seed=3)
    for arguments, message in [(["--temperature", "0.5"], "--temperature: applies only with "
                                                          "--sample"),
                               (["--sample", "--beam", "3"], "--beam: sampling draws one output "
                                                             "per sentence; expected 1 with "
                                                             "--sample, got 3"),
                               (["--sample", "--nbest", "2"], "--nbest: sampling draws one "
                                                              "output per sentence; expected 1 "
                                                              "with --sample, got 2")]:
        bad = translate(run_dir, *arguments, input=lines)
        assert_one_line_error(bad, message)


def test_plain_progress_in_logs_is_one_line_every_few_seconds():
    clock = {"now": 0.0}
    stream = io.StringIO()
    bar = PlainProgress(100, 0, "epoch 1/3", stream, every_seconds=10, clock=lambda: clock["now"])
    for _ in range(100):
        clock["now"] += 0.5
        bar.set_postfix_str("loss 1.0000")
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines == [f"epoch 1/3: {n}/100, loss 1.0000" for n in (20, 40, 60, 80, 100)]
    assert "\r" not in stream.getvalue()


def test_a_training_log_has_no_carriage_returns(run_dir, tmp_path):
    data = tmp_path / "pairs.txt"
    data.write_text("".join(f"{src}\t{tgt}\n" for src, tgt in PAIRS), encoding="utf-8")
    log = tmp_path / "train.log"
    with log.open("wb") as stream:
        subprocess.run([sys.executable, "-m", "seq2seq", "train", "fra-eng", *FAST, "--set",
                        f"data.path={data}", "--out", str(tmp_path / "r")], stdout=stream,
                       stderr=stream, check=True)
    assert b"\r" not in log.read_bytes()

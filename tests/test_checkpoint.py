"""Checkpoints load safely and are never missing: pickles refused, paths contained,
``last`` loadable at every moment of a re-save."""

import json
import os
import shutil

import pytest
import torch

from seq2seq import checkpoint
from seq2seq.errors import UserError
from seq2seq.tokenizers import SentencePieceTokenizer, load_tokenizer


def loadable(path) -> bool:
    try:
        target = checkpoint.resolve(path.parents[1] if path.name == "last" else path, "last")
        checkpoint.load_state(target)
        return (target / checkpoint.WEIGHTS).exists()
    except UserError:
        return False


def test_resaving_the_same_step_never_leaves_last_unloadable(tmp_path, monkeypatch):
    model = torch.nn.Linear(2, 2)
    checkpoint.write_checkpoint(tmp_path, 5, model, {"n": 1})
    last = tmp_path / "checkpoints" / "last"
    seen = []
    real_replace, real_rmtree = os.replace, shutil.rmtree

    def watched(real):
        def call(*args, **kwargs):
            seen.append(loadable(last))
            result = real(*args, **kwargs)
            seen.append(loadable(last))
            return result
        return call

    monkeypatch.setattr(checkpoint.os, "replace", watched(real_replace))
    monkeypatch.setattr(checkpoint.shutil, "rmtree", watched(real_rmtree))
    checkpoint.write_checkpoint(tmp_path, 5, model, {"n": 2}, links=("last", "best"))
    assert seen and all(seen)
    assert checkpoint.load_state(checkpoint.resolve(tmp_path, "last")) == {"n": 2}
    assert checkpoint.load_state(checkpoint.resolve(tmp_path, "best")) == {"n": 2}
    assert checkpoint.step_of(checkpoint.resolve(tmp_path, "last")) == 5
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "best", "last", "step-00000005.2"]


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_state_carrying_a_pickle_payload_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint.write_checkpoint(tmp_path, 1, torch.nn.Linear(2, 2), {"n": 1})
    state = checkpoint.resolve(tmp_path, "last") / checkpoint.STATE
    torch.save({"position": RunsCode()}, state)
    with pytest.raises(UserError) as error:
        checkpoint.load_state(state.parent)
    message = str(error.value)
    assert message.startswith(f"{state}: refused: the training state holds something other")
    assert "posix.system" in message and "\n" not in message
    assert not (tmp_path / "pwned").exists()


def test_an_empty_or_damaged_training_state_is_one_line_saying_so(tmp_path):
    checkpoint.write_checkpoint(tmp_path, 1, torch.nn.Linear(2, 2), {"n": 1})
    state = checkpoint.resolve(tmp_path, "last") / checkpoint.STATE
    torch.save({"n": 1}, state)
    whole = state.read_bytes()
    # garbage was "refused: ... something other than tensors", with torch's advice to load
    # it unsafely; a truncated zip carried torch's paragraph of advice
    for content, reason in ((b"", r"\(empty or truncated\)"),
                            (whole[: len(whole) // 2], r"\(PytorchStreamReader failed reading "
                                                      r"zip archive: failed finding central "
                                                      r"directory\)$"),
                            (b"garbage\n", r"\(not a checkpoint torch wrote: corrupt, or "
                                           r"another kind of file\)$")):
        state.write_bytes(content)
        with pytest.raises(UserError, match=rf"{state}: unreadable training state {reason}"):
            checkpoint.load_state(state.parent)


def test_links_must_stay_inside_the_checkpoints_directory(tmp_path):
    checkpoint.write_checkpoint(tmp_path / "other", 1, torch.nn.Linear(2, 2), {"n": 1})
    checkpoint.write_checkpoint(tmp_path / "run", 1, torch.nn.Linear(2, 2), {"n": 1})
    link = tmp_path / "run" / "checkpoints" / "last"
    link.unlink()
    os.symlink(tmp_path / "other" / "checkpoints" / "step-00000001", link)
    with pytest.raises(UserError, match=r"last: expected a link to a checkpoint inside"):
        checkpoint.resolve(tmp_path / "run", "last")


@pytest.mark.parametrize("damage", ["dangling", "looping", "a plain file", "no weights"])
def test_a_damaged_best_link_is_an_error_not_a_silent_fall_back_to_last(tmp_path, damage):
    """Only a missing best (no evaluation yet) falls back to last; a best that is there
    but leads to no checkpoint was silently replaced by last."""
    checkpoint.write_checkpoint(tmp_path, 1, torch.nn.Linear(2, 2), {"n": 1})
    best = tmp_path / "checkpoints" / "best"
    assert checkpoint.resolve(tmp_path, "best").name == "step-00000001"  # best missing
    if damage == "dangling":
        os.symlink("step-00000099", best)
    elif damage == "looping":
        os.symlink("best", best)
    elif damage == "a plain file":
        best.write_text("step-00000001")
    else:
        (tmp_path / "checkpoints" / "step-00000002").mkdir()
        os.symlink("step-00000002", best)
    with pytest.raises(UserError, match=rf"{best}: expected a link to a checkpoint directory"):
        checkpoint.resolve(tmp_path, "best")
    assert checkpoint.resolve(tmp_path, "last").name == "step-00000001"


@pytest.mark.parametrize("name", ["../outside.spm.model", "ABSOLUTE"])
def test_a_tokenizer_cannot_name_a_file_outside_its_directory(tmp_path, name):
    tokenizer = SentencePieceTokenizer.train(["hello world", "a b c d e f g"] * 20, "char", 40)
    run = tmp_path / "run"
    tokenizer.save(run, "source")
    (tmp_path / "outside.spm.model").write_bytes((run / "source.spm.model").read_bytes())
    name = str(tmp_path / "outside.spm.model") if name == "ABSOLUTE" else name
    assert load_tokenizer(run, "source").symbols == tokenizer.symbols  # as saved: fine
    path = run / "source.tokenizer.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "model": name}))
    with pytest.raises(UserError, match=r"source.tokenizer.json: model: expected a file inside"):
        load_tokenizer(run, "source")

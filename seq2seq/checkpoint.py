"""Checkpoints: one directory each, written whole, then published by an atomic rename.

``RUN_DIR/checkpoints/step-00000123/`` holds ``model.safetensors`` (weights), ``state.pt``
(optimizer, scheduler, RNG and data-order state) and whatever files the task adds
(``config.json``, a vocabulary). ``last`` and ``best`` are symbolic links to such
directories, swapped with ``os.replace``: a process killed while writing leaves only
an unreferenced ``*.tmp`` directory behind, and the previous checkpoint intact.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from seq2seq.base.errors import UserError
from seq2seq.base.files import read_json_object
from seq2seq.runtime.manifest import MANIFEST, is_export

WEIGHTS = "model.safetensors"
STATE = "state.pt"


def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def write_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, state: dict,
                     write_extra: Callable[[Path], None] | None = None,
                     links: tuple[str, ...] = ("last",)) -> Path:
    """Write a checkpoint for ``step`` and point ``links`` (``last``, ``best``) at it."""
    root = checkpoints_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = free_name(root, step)
    temporary = root / f"{final.name}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    # each tensor on its own (tied weights share memory, which safetensors refuses; loading
    # into the model ties them again, as they are one parameter)
    weights = {name: tensor.detach().cpu().clone().contiguous()
               for name, tensor in model.state_dict().items()}
    save_file(weights, temporary / WEIGHTS)
    torch.save(state, temporary / STATE)
    if write_extra is not None:
        write_extra(temporary)
    os.replace(temporary, final)
    for link in links:
        point(root / link, final.name)
    remove_unreferenced(root)
    return final


def free_name(root: Path, step: int) -> Path:
    """``step-N``, or ``step-N.2``, ``step-N.3``... when the same step is written again (an
    interrupt on an epoch's last batch, then that epoch's end): the links move to the new
    directory in one rename each, so ``last`` always names a whole checkpoint."""
    name = f"step-{step:08d}"
    candidate, version = root / name, 1
    while candidate.exists():
        version += 1
        candidate = root / f"{name}.{version}"
    return candidate


def step_of(checkpoint: Path) -> int:
    """The training step a checkpoint directory holds (``step-00000123[.2]`` -> 123)."""
    match = re.fullmatch(r"step-(\d+)(\.\d+)?", Path(checkpoint).name)
    if match is None:
        raise UserError(f"{checkpoint}: not a checkpoint directory name (step-NNNNNNNN)")
    return int(match.group(1))


def point(link: Path, target: str) -> None:
    """Make ``link`` a symlink to ``target``, atomically."""
    temporary = link.with_name(link.name + ".new")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    os.symlink(target, temporary)
    os.replace(temporary, link)


def remove_unreferenced(root: Path) -> None:
    """Delete step directories that no link points to, and leftover temporaries."""
    kept = {os.readlink(link) for link in root.iterdir() if link.is_symlink()}
    for entry in root.iterdir():
        if entry.is_symlink():
            continue
        if entry.name.endswith(".tmp") or (entry.is_dir() and entry.name not in kept):
            shutil.rmtree(entry, ignore_errors=True)


def resolve(run_or_checkpoint: Path, which: str = "best") -> Path:
    """A checkpoint directory from a run directory (its ``best``, else ``last``) or itself."""
    path = Path(run_or_checkpoint)
    if (path / WEIGHTS).exists():
        return path
    root = checkpoints_dir(path)
    for name in (which, "last"):
        candidate = root / name
        if (candidate / WEIGHTS).exists():
            target = candidate.resolve()
            if target.parent != root.resolve():
                raise UserError(f"{candidate}: expected a link to a checkpoint inside {root}, "
                                f"got one to {target}")
            return target
        if candidate.is_symlink() or candidate.exists():  # there, but damaged: not skipped
            hint = "; remove it to fall back to checkpoints/last" if name == "best" else ""
            raise UserError(f"{candidate}: expected a link to a checkpoint directory with "
                            f"{WEIGHTS}; it leads to none (a broken or looping link, or a "
                            f"damaged checkpoint){hint}")
    if not path.exists():
        raise UserError(f"{path}: no such run directory")
    refuse_export(path)
    raise UserError(f"{path}: no checkpoint found (expected {root}/{which}/{WEIGHTS})")


def refuse_export(directory: Path) -> None:
    """Raise a UserError saying so if ``directory`` is what ``seq2seq export`` wrote (it
    only translates), naming the run it was exported from where its manifest says."""
    if not is_export(directory):
        return
    try:  # the run as it was given to seq2seq export (relative to where that ran)
        origin = read_json_object(Path(directory) / MANIFEST, "export manifest")
        origin = f" (its manifest says {origin['exported_from']['run']})"
    except (UserError, KeyError, TypeError):  # a broken manifest: say no more
        origin = ""
    raise UserError(f"{directory}: an export (seq2seq export), not a run directory: "
                    f"`seq2seq translate {directory}` decodes with it; this needs the run "
                    f"directory it was exported from{origin}")


def load_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    """Load ``model.safetensors`` into ``model``; a mismatch names the tensors."""
    path = Path(checkpoint) / WEIGHTS
    try:
        weights = load_file(path)
    except Exception as error:  # safetensors raises its own error types
        raise UserError(f"{path}: unreadable weights ({error})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise UserError(f"{path}: checkpoint does not fit this model "
                        f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise UserError(f"{path}: {name}: expected shape {tuple(expected[name].shape)}, "
                            f"got {tuple(tensor.shape)}")
    model.load_state_dict(weights)


def load_state(checkpoint: Path) -> dict:
    path = Path(checkpoint) / STATE
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # weights_only: tensors and plain values only,
        # so a crafted state.pt cannot run code
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        refused = next((line for line in lines if "GLOBAL" in line), None)
        if refused is None:  # not a pickle torch wrote at all ("Unsupported operand 103")
            raise UserError(f"{path}: unreadable training state (not a checkpoint torch "
                            f"wrote: corrupt, or another kind of file)") from None
        raise UserError(f"{path}: refused: the training state holds something other than "
                        f"tensors and plain values ({refused})") from None
    except Exception as error:  # an empty file raises EOFError with no message
        # torch's zip reader adds a paragraph of advice after its first sentence
        reason = str(error).split(". ")[0] or ("empty or truncated" if isinstance(
            error, EOFError) else type(error).__name__)
        raise UserError(f"{path}: unreadable training state ({reason})") from None

"""``seq2seq bench core``: our LSTM (fused and reference paths) against ``torch.nn.LSTM``.

Tokens/s counts every position of the padded batch (batch x time), so a run with
variable lengths is charged for the padding it skips. Masks (Keras's way of giving
lengths) come right-padded (the fused path with lengths), left-padded (shifted into
right-padded form, then fused) and with gaps (the reference loop). Forward runs under
``torch.no_grad``; forward+backward sums the sequence output and back-propagates into
the input and the weights.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from seq2seq.core import LSTM, precision

from .timing import interleaved_medians, where


@dataclass
class CoreTiming:
    time_steps: int
    units: int
    contender: str
    mode: str  # "forward" or "forward+backward"
    tokens_per_second: float
    ratio_to_torch: float


def _random_lengths(batch: int, time_steps: int, generator: torch.Generator) -> torch.Tensor:
    """Lengths spread over [time/2, time], the longest one full."""
    lengths = torch.randint(time_steps // 2, time_steps + 1, (batch,), generator=generator)
    lengths[0] = time_steps
    return lengths


def _contenders(batch: int, time_steps: int, features: int, units: int, bf16: bool,
                device: torch.device):
    """name -> (module, extra kwargs, autocast flag); the bf16 ones only if ``bf16``."""
    generator = torch.Generator().manual_seed(0)
    ours = LSTM(features, units, return_sequences=True, return_state=True).to(device)
    reference = LSTM(features, units, return_sequences=True, return_state=True,
                     fused=False).to(device)
    reference.load_state_dict(ours.state_dict())
    torch_lstm = nn.LSTM(features, units, batch_first=True).to(device)
    lengths = _random_lengths(batch, time_steps, generator)  # packing takes them on the CPU
    steps = torch.arange(time_steps)[None, :]
    right = steps < lengths[:, None]
    left = steps >= time_steps - lengths[:, None]
    gaps = right & (steps % 7 != 3)  # a masked step in every seven
    contenders = {
        "torch.nn.LSTM": (torch_lstm, {}, False),
        "fused": (ours, {}, False),
        "fused, lengths": (ours, {"lengths": lengths.to(device)}, False),
        "torch.nn.LSTM, packed": (torch_lstm, {"packed": lengths}, False),
        "fused, right-padded mask": (ours, {"mask": right.to(device)}, False),
        "fused, left-padded mask": (ours, {"mask": left.to(device)}, False),
        "mask with gaps (loop)": (ours, {"mask": gaps.to(device)}, False),
        "reference": (reference, {}, False),
        "reference, lengths": (reference, {"lengths": lengths.to(device)}, False),
    }
    if bf16:
        contenders["torch.nn.LSTM bf16"] = (torch_lstm, {}, True)
        contenders["fused bf16"] = (ours, {}, True)
    return contenders


def _call(module: nn.Module, x: torch.Tensor, kwargs: dict, bf16: bool, backward: bool
          ) -> Callable[[], None]:
    def run() -> None:
        amp = (torch.autocast(x.device.type, dtype=torch.bfloat16) if bf16
               else contextlib.nullcontext())
        grad = contextlib.nullcontext() if backward else torch.no_grad()
        with grad, amp:
            if "packed" in kwargs:  # torch's own variable-length path, packing included
                packed = pack_padded_sequence(x, kwargs["packed"], batch_first=True,
                                              enforce_sorted=False)
                output = module(packed)[0].data
            else:
                output = module(x, **kwargs)[0]
        if backward:
            output.float().sum().backward()
            module.zero_grad(set_to_none=True)
            x.grad = None

    return run


def run_core_benchmark(batch: int = 64, time_steps: tuple[int, ...] = (16, 60),
                       units: tuple[int, ...] = (256, 512), features: int = 80,
                       threads: int = 2, rounds: int = 7, device: str = "cpu"
                       ) -> list[CoreTiming]:
    """Time every contender at every (time, units) on ``device``; returns one row per
    contender and mode.

    The bf16 contenders run only where the device runs bf16 natively (:mod:`precision`).
    On CUDA each timing waits for the GPU's queued work (and TF32 stays at torch's
    defaults, the same for every contender).
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = torch.device(device)
    bf16 = precision.bf16_native(device.type)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    results: list[CoreTiming] = []
    for steps in time_steps:
        for size in units:
            contenders = _contenders(batch, steps, features, size, bf16, device)
            x = torch.randn(batch, steps, features, device=device, requires_grad=True)
            for mode, backward in (("forward", False), ("forward+backward", True)):
                calls = {name: _call(module, x, kwargs, bf16, backward)
                         for name, (module, kwargs, bf16) in contenders.items()}
                medians = interleaved_medians(calls, rounds, synchronize=synchronize)
                tokens = batch * steps
                for name, seconds in medians.items():
                    reference = medians["torch.nn.LSTM bf16" if "bf16" in name
                                        else "torch.nn.LSTM"]
                    results.append(CoreTiming(steps, size, name, mode, tokens / seconds,
                                              reference / seconds))
    return results


def format_core_table(results: list[CoreTiming], batch: int, features: int, threads: int,
                      device: str = "cpu") -> str:
    lines = [
        f"LSTM, batch {batch}, {features} input features, {where(threads, device)}; tokens/s "
        "(ratio to torch.nn.LSTM in the same precision, same process)",
        f"{'T':>4} {'units':>5}  {'contender':<24} {'forward':>12} {'ratio':>6} "
        f"{'fwd+bwd':>12} {'ratio':>6}",
    ]
    rows: dict[tuple, dict[str, CoreTiming]] = {}
    for r in results:
        rows.setdefault((r.time_steps, r.units, r.contender), {})[r.mode] = r
    for (steps, size, name), modes in rows.items():
        f, b = modes["forward"], modes["forward+backward"]
        lines.append(
            f"{steps:>4} {size:>5}  {name:<24} {f.tokens_per_second:>12,.0f} "
            f"{f.ratio_to_torch:>6.2f} {b.tokens_per_second:>12,.0f} {b.ratio_to_torch:>6.2f}"
        )
    speedups = []
    for steps, size, name in rows:
        if name == "fused bf16":
            fp32 = rows[(steps, size, "fused")]["forward+backward"].tokens_per_second
            bf16 = rows[(steps, size, name)]["forward+backward"].tokens_per_second
            speedups.append(f"T={steps} units={size}: {bf16 / fp32:.2f}x")
    lines.append("fused path, bf16 autocast vs fp32 (forward+backward): "
                 + (", ".join(speedups) or f"bf16: not native on this {device.upper()}"))
    return "\n".join(lines)


def results_json(results: list[CoreTiming]) -> str:
    return json.dumps([asdict(r) for r in results], indent=1)

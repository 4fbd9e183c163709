"""Whether a device runs bfloat16 natively: the one probe every precision choice asks.

torch's fused recurrent kernels on CPU (oneDNN) need native bf16 (AVX512-BF16 or AMX)
under bf16 autocast: elsewhere they fail with "could not create a primitive descriptor".
:func:`bf16_native` is the only place that asks the hardware; the core (fused kernels
fall back to fp32 under an autocast the CPU cannot run natively) and the trainer
(``train.bf16 = "auto" | true | false``) both go through it, so a test that monkeypatches
it exercises either branch on any machine.

>>> from seq2seq.core import precision
>>> precision.bf16_native("cpu")          # True on a CPU with AVX512-BF16 or AMX
"""

from __future__ import annotations

import functools

import torch

CPU_FEATURES = "AVX512-BF16 or AMX-BF16"


@functools.cache
def _cpu_runs_bf16() -> bool:
    """oneDNN can run bf16, and the CPU has the instructions for it. oneDNN alone is not
    enough: it also says yes on AVX-512 without AVX512-BF16, where it emulates bf16, and
    there bf16 training ran 2.5x slower than fp32 (``bench precision``: 10,709 against
    26,332 tokens/s on an Intel Xeon with AVX-512 and neither extension)."""
    mkldnn = torch.backends.mkldnn
    if not (mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return False
    return _cpu_has_bf16_instructions()


def _cpu_has_bf16_instructions() -> bool:
    """AVX512-BF16 or AMX, as torch's CPU feature probe reports them (a torch without that
    probe leaves the answer to oneDNN)."""
    probes = [getattr(torch.cpu, name, None)
              for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(probe is None for probe in probes):
        return True
    return any(probe() for probe in probes)


def bf16_native(device_type: str) -> bool:
    """Whether ``device_type`` (``"cpu"``, ``"cuda"``, ...) runs bf16 arithmetic natively.

    CPU: oneDNN can run bf16 and the CPU has AVX512-BF16 or AMX (not oneDNN's emulation on
    plain AVX-512). CUDA: compute capability 8.0 or newer
    (``torch.cuda.is_bf16_supported(including_emulation=False)``). Other devices: no.
    """
    if device_type == "cpu":
        return _cpu_runs_bf16()
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(
            including_emulation=False)
    return False


def missing_bf16(device_type: str) -> str:
    """What ``device_type`` lacks for native bf16, for messages (when :func:`bf16_native`
    is False)."""
    if device_type == "cpu":
        return f"this CPU has no native bfloat16 (neither {CPU_FEATURES})"
    if device_type == "cuda":
        return "this GPU has no native bfloat16 (compute capability below 8.0)"
    return f"bfloat16 autocast is not supported here on {device_type}"


def cpu_autocast_needs_fp32(x: torch.Tensor) -> bool:
    """Whether a fused kernel on ``x`` would run under a bf16 autocast that this CPU cannot
    run natively (then the caller runs it in fp32 with autocast off)."""
    return (x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16
            and not bf16_native("cpu"))

"""The exported encoder and decoder step, run by onnxruntime behind the search's protocol
(:class:`seq2seq.runtime.search.common.RuntimeDecodable`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime

from seq2seq.base.errors import UserError
from seq2seq.runtime.manifest import MANIFEST

__all__ = ["OnnxModel"]

MEMORY = ("memory_values", "memory_keys", "memory_mask")


def _session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # The encoder and the step alternate: a session's threads spinning after its run take
    # the cores from the other (it doubled the encoder's time on 2 cores), so they stop.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types
        reason = " ".join(str(error).split())[:200]
        raise UserError(f"{path}: onnxruntime cannot load it ({reason})") from None


class OnnxModel:
    """``encode`` and ``step`` of an export directory's two graphs.

    ``state`` holds one row per hypothesis: the decoder's states (``h0``, ``c0`` ...), with
    input feeding ``feed``, and with attention ``memory_rows`` (which sentence a row
    reads); ``shared`` holds the encoder memory, read through ``memory_rows``.
    """

    def __init__(self, directory: Path, manifest: dict, threads: int = 0) -> None:
        graphs = manifest["graphs"]
        self.encoder = _session(directory / graphs["encoder"], threads)
        self.decoder = _session(directory / graphs["decoder_step"], threads)
        self.candidates = _session(directory / graphs["beam_candidates"], threads)
        self.state_names: list[str] = list(manifest["state"])
        self.units: int = manifest["units"]
        self.attention: bool = manifest["attention"] != "none"
        self.input_feeding: bool = manifest["input_feeding"]
        self.outputs = ["log_probs", *(f"{name}_out" for name in self.state_names)]
        if self.input_feeding:
            self.outputs.append("feed_out")
        self._check_graphs(directory / MANIFEST)

    def _check_graphs(self, manifest: Path) -> None:
        """The graphs take and give what the manifest's layout says (its fields are not
        checksummed: an edited one would otherwise fail inside onnxruntime, or not at all)."""
        memory = list(MEMORY) if self.attention else []
        expected = {
            "encoder outputs": (self.encoder.get_outputs(), [*self.state_names, *memory]),
            "decoder_step inputs": (self.decoder.get_inputs(), [
                "tokens", *self.state_names, *memory, *(["memory_rows"] if memory else []),
                *(["feed"] if self.input_feeding else [])]),
            "decoder_step outputs": (self.decoder.get_outputs(), self.outputs)}
        for what, (found, names) in expected.items():
            if sorted(node.name for node in found) != sorted(names):
                raise UserError(f"{manifest}: state, attention, input_feeding: the graphs' "
                                f"{what} are {sorted(node.name for node in found)}, these "
                                f"fields say {sorted(names)}")
        sizes = {node.shape[1] for node in self.decoder.get_inputs()
                 if node.name in (*self.state_names, "feed")}
        if sizes != {self.units}:
            raise UserError(f"{manifest}: units: expected {sorted(sizes)[0]} (the graphs' "
                            f"state size), got {self.units}")

    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> tuple[dict, dict]:
        names = self.state_names + (list(MEMORY) if self.attention else [])
        values = self.encoder.run(names, {"src": src, "src_lengths": src_lengths})
        state = dict(zip(self.state_names, values))
        shared = dict(zip(names[len(self.state_names):], values[len(self.state_names):]))
        if self.attention:
            state["memory_rows"] = np.arange(src.shape[0], dtype=np.int64)
        if self.input_feeding:
            state["feed"] = np.zeros((src.shape[0], self.units), np.float32)
        return state, shared

    def step(self, tokens: np.ndarray, state: dict, shared: dict) -> tuple[np.ndarray, dict]:
        feeds = {"tokens": tokens, **state, **shared}
        log_probs, *values = self.decoder.run(self.outputs, feeds)
        new_state = dict(zip(self.state_names, values))
        if self.input_feeding:
            new_state["feed"] = values[-1]
        if self.attention:
            new_state["memory_rows"] = state["memory_rows"]
        return log_probs, new_state

    def beam_candidates(self, scores: np.ndarray, log_probs: np.ndarray, k: int
                        ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best ``scores[row] + log_probs[row, token]`` of each sentence's rows
        (``(sentences, k)`` values and flat indices into ``beam * vocab``), best first."""
        sentences = scores.shape[0]
        values, indices = self.candidates.run(None, {
            "log_probs": log_probs, "scores": scores.reshape(-1),
            "shape": np.array([sentences, -1], dtype=np.int64),
            "k": np.array([k], dtype=np.int64)})
        return values, indices

"""The decoding settings every search shares, the torch search and the export runtime's:
a recipe's ``[decode]`` table, checked with messages that name each setting."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from seq2seq.base.errors import UserError

__all__ = ["SearchConfig"]

# upper bounds that keep every setting inside what a search can allocate and compute
# (a length penalty of alpha 300 overflows a float; a beam of 10**20 overflows torch's
# sizes): each far beyond any useful value (GNMT's alpha is 0.6 to 1)
MAXIMA = {"batch_size": 1_000_000, "beam_size": 10_000, "max_len_offset": 100_000,
          "max_len_ratio": 100.0, "alpha": 10.0, "min_len": 100_000,
          "no_repeat_ngram": 100_000, "top_k": 2**31 - 1}


@dataclass
class SearchConfig:
    """The ``[decode]`` table: output length limits, beam search and sampling settings."""

    # each key's "doc" is its line in docs/recipes.md (plain fields, as the runtime does
    # not import the recipe loader's seq2seq.config.setting)
    max_len_ratio: float = field(default=2.0, metadata={
        "doc": "output length limit: max_len_ratio * source length + max_len_offset tokens"})
    max_len_offset: int = field(default=10, metadata={
        "doc": "output length limit: tokens added to max_len_ratio * source length"})
    batch_size: int = field(default=256, metadata={"doc": "sentences per decoding batch"})
    beam_size: int = field(default=1, metadata={"doc": "beam width; 1: greedy search"})
    nbest: int = field(default=1, metadata={
        "doc": "hypotheses returned per sentence by beam search (<= beam_size)"})
    alpha: float = field(default=0.0, metadata={
        "doc": "GNMT length normalisation: score / ((5 + len) / 6) ** alpha"})
    min_len: int = field(default=0, metadata={
        "doc": "eos forbidden before this many tokens (the length limit still holds)"})
    no_repeat_ngram: int = field(default=0, metadata={
        "doc": "no n-gram of this size twice in an output (0: off)"})
    sample: bool = field(default=False, metadata={
        "doc": "draw each token instead of searching (beam_size and nbest 1)"})
    temperature: float = field(default=1.0, metadata={
        "doc": "sampling: softmax(logits / temperature)"})
    top_k: int = field(default=0, metadata={
        "doc": "sampling: draw from the k most probable tokens (0: all)"})

    def check(self, names: Mapping[str, str] | None = None) -> None:
        """Reject settings out of range or that do not apply, naming each as ``decode.KEY``,
        or as ``names[KEY]`` (a command-line flag, a keyword argument) when given."""
        def label(key: str) -> str:
            return (names or {}).get(key, f"decode.{key}")

        sample = (names or {}).get("sample", "decode.sample = true")
        for name in ("max_len_ratio", "alpha", "temperature"):  # nan passes any comparison
            if not math.isfinite(getattr(self, name)):
                raise UserError(f"{label(name)}: expected a finite number, "
                                f"got {getattr(self, name)}")
        for name in ("batch_size", "beam_size", "nbest"):
            if getattr(self, name) < 1:
                raise UserError(f"{label(name)}: expected a positive integer, "
                                f"got {getattr(self, name)}")
        if self.max_len_offset < 1:  # with a ratio >= 0, every sentence may output eos
            raise UserError(f"{label('max_len_offset')}: expected a positive integer (every "
                            f"output needs room for eos), got {self.max_len_offset}")
        for name in ("max_len_ratio", "alpha", "min_len", "no_repeat_ngram", "top_k"):
            if getattr(self, name) < 0:
                raise UserError(f"{label(name)}: expected a value >= 0, "
                                f"got {getattr(self, name)}")
        for name, most in MAXIMA.items():
            value = getattr(self, name)
            if value > most:
                shown = (lambda v: f"{v:,}" if isinstance(v, int) else f"{v:g}")  # noqa: E731
                raise UserError(f"{label(name)}: expected at most {shown(most)}, "
                                f"got {shown(value)}")
        if self.max_len_ratio == 0 and self.min_len > self.max_len_offset:
            raise UserError(f"{label('min_len')}: expected at most {label('max_len_offset')} "
                            f"({self.max_len_offset:,}), the length limit of every output "
                            f"with {label('max_len_ratio')} 0; got {self.min_len:,}")
        if self.temperature <= 0:
            raise UserError(f"{label('temperature')}: expected a value > 0, "
                            f"got {self.temperature}")
        if self.sample:  # (before nbest <= beam_size: --sample --nbest 2 is about sampling)
            for name in ("beam_size", "nbest"):
                if getattr(self, name) != 1:
                    raise UserError(f"{label(name)}: sampling draws one output per sentence; "
                                    f"expected 1 with {sample}, "
                                    f"got {getattr(self, name)}")
        elif self.nbest > self.beam_size:
            raise UserError(f"{label('nbest')}: expected at most {label('beam_size')} "
                            f"({self.beam_size}), got {self.nbest}")
        if not self.sample:
            for name, default in (("temperature", 1.0), ("top_k", 0)):
                if getattr(self, name) != default:
                    raise UserError(f"{label(name)}: applies only to sampling; set "
                                    f"{sample} (or leave it at {default})")

    def changed(self, names: Mapping[str, str] | None = None, **changes) -> SearchConfig:
        """These settings with ``changes`` (``beam_size=5``, ``alpha=0.6``; ``None`` leaves a
        setting as it is), checked; an error names a changed setting as ``names`` says (a
        flag, an argument) and any other as ``decode.KEY``."""
        given = {k: v for k, v in changes.items() if v is not None}
        config = dataclasses.replace(self, **given)
        config.check({k: v for k, v in (names or {}).items() if k in given})
        return config

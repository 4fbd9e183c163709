"""The Python API of a trained translation run: ``Translator.from_pretrained(run_dir)``.

Example::

    translator = Translator.from_pretrained("runs/fra-eng")
    translator.translate(["I am cold."], beam=5)             # ["J'ai froid."]
    best = translator.translate(["I am cold."], beam=5, nbest=3)[0]   # 3 Translations
    best[0].text, best[0].score                              # text, log-probability
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from seq2seq.errors import UserError
from seq2seq.search import SearchConfig, decode_sequences


@dataclass
class Translation:
    """One hypothesis as text, with its log-probability and its length-normalised score."""

    text: str
    score: float
    normalized_score: float


class Translator:
    """A trained encoder-decoder with its tokenizers and decoding settings."""

    def __init__(self, model, source, target, search: SearchConfig, recipe=None) -> None:
        self.model, self.source, self.target = model.eval(), source, target
        self.search, self.recipe = search, recipe

    @classmethod
    def from_pretrained(cls, run_dir: str | Path, which: str = "best") -> Translator:
        """Load a run directory's ``best`` (or ``last``) checkpoint, or a checkpoint directory."""
        from seq2seq.tasks.translation import load_translator

        recipe, model, source, target, _ = load_translator(Path(run_dir), which)
        return cls(model, source, target, recipe.decode, recipe)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def search_config(self, **changes) -> SearchConfig:
        """The run's decoding settings with ``changes`` (``beam_size=5``, ``alpha=0.6``, ...)."""
        return dataclasses.replace(self.search, **{k: v for k, v in changes.items()
                                                   if v is not None})

    @torch.no_grad()
    def hypotheses(self, sentences: list[str], config: SearchConfig) -> list[list[Translation]]:
        """Every sentence's n-best list, in the input's order, decoded in length-sorted batches.

        An empty (or all-blank) sentence translates to one empty translation."""
        encoded = [self.source.encode(s) for s in sentences]
        results: list[list[Translation]] = [[Translation("", 0.0, 0.0)] for _ in sentences]
        todo = [i for i, ids in enumerate(encoded) if ids and sentences[i].strip()]
        found = decode_sequences(self.model, [encoded[i] for i in todo], self.source.pad_id,
                                 self.target.bos_id, self.target.eos_id, config)
        for index, nbest in zip(todo, found):
            results[index] = [Translation(self.target.decode(h.tokens), h.score,
                                          h.normalized_score) for h in nbest]
        return results

    def translate(self, sentences: list[str], beam: int | None = None, nbest: int = 1,
                  alpha: float | None = None, scores: bool = False, **search):
        """Translations of ``sentences``: strings, or with ``scores`` (or ``nbest`` > 1) lists
        of :class:`Translation`, best first."""
        config = self.search_config(beam_size=beam, nbest=nbest, alpha=alpha, **search)
        if config.nbest > config.beam_size:
            raise UserError(f"nbest: expected at most the beam size ({config.beam_size}), "
                            f"got {config.nbest}")
        found = self.hypotheses(list(sentences), config)
        if scores or nbest > 1:
            return found
        return [nbest_list[0].text for nbest_list in found]

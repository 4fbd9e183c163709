"""``OnnxTranslator``: an export directory that translates, with NumPy, onnxruntime and the
tokenizers alone (no torch).

Example::

    translator = OnnxTranslator("exports/fra-eng")
    translator.translate(["I am cold."], beam=5)                  # ["J'ai froid."]
    translator.translate(["I am cold."], beam=5, nbest=3)[0]      # 3 Translations
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from seq2seq.base.errors import UserError
from seq2seq.base.files import read_json_object
from seq2seq.base.results import TranslatedLine, Translation, api_results, translate_sentences
from seq2seq.base.search_settings import SearchConfig
from seq2seq.base.tokenizers import load_tokenizer
from seq2seq.runtime import search
from seq2seq.runtime.manifest import DECODE_FILE, read_manifest
from seq2seq.runtime.model import OnnxModel

__all__ = ["OnnxTranslator", "Translation"]  # Translation: what translate(scores=True) gives


class OnnxTranslator:
    """An exported translation model with its tokenizers and decoding settings.

    Args:
        directory: what ``seq2seq export`` wrote; every file is checked against the
            manifest's checksums first.
        threads: onnxruntime's threads per graph (0: its default, one per core).

    ``max_input_len``: sources of more tokens are not translated (an empty result and a
    warning); 0 means no limit. It comes from the run that was exported.
    """

    def __init__(self, directory: str | Path, threads: int = 0) -> None:
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        self.source = load_tokenizer(self.directory, "source")
        self.target = load_tokenizer(self.directory, "target")
        for name, tokenizer in (("source", self.source), ("target", self.target)):
            expected = self.manifest["vocabulary"][name]
            if len(tokenizer) != expected:
                raise UserError(f"{self.directory}: {name} tokenizer has {len(tokenizer)} "
                                f"symbols; the manifest says {expected}")
        settings = read_json_object(self.directory / DECODE_FILE, "decoding settings")
        self.search = _search_config(self.directory / DECODE_FILE, settings.get("search"))
        self.max_input_len = settings.get("max_input_len", 0)
        self.model = OnnxModel(self.directory, self.manifest, threads)

    @property
    def has_attention(self) -> bool:
        return self.model.attention

    def search_config(self, names: dict[str, str] | None = None, **changes) -> SearchConfig:
        """The export's decoding settings with ``changes``, checked (see
        :meth:`SearchConfig.changed`)."""
        return self.search.changed(names, **changes)

    def hypotheses(self, sentences: list[str], config: SearchConfig
                   ) -> list[list[Translation]]:
        """Every sentence's n-best list, in the input's order (``[]``: left untranslated)."""
        return [line.hypotheses for line in self.translate_lines(sentences, config)]

    def translate_lines(self, sentences: list[str], config: SearchConfig,
                        generator=None, attention: bool = False) -> list[TranslatedLine]:
        """Every sentence's n-best list and length in source tokens, in the input's order
        (:func:`~seq2seq.base.results.translate_sentences`). Sampling and alignments
        need the run directory; asking for them here is a :class:`UserError`."""
        if config.sample or generator is not None:
            raise UserError(f"{self.directory}: an export searches (greedy or beam); "
                            "sampling needs the run directory")
        if attention:
            raise UserError(f"{self.directory}: an export carries no alignments; "
                            "--attention needs the run directory")
        return translate_sentences(sentences, self.source, self.target, self.max_input_len,
                                   lambda encoded: self.decode_ids(encoded, config))

    def decode_ids(self, sequences: list[list[int]], config: SearchConfig
                   ) -> list[list[search.Hypothesis]]:
        """Each source id list's n-best hypotheses, decoded in batches of
        ``config.batch_size`` sentences of similar length (longest first, as the torch
        side batches them)."""
        results: list[list[search.Hypothesis]] = [[] for _ in sequences]
        order = sorted(range(len(sequences)), key=lambda i: (-len(sequences[i]), i))
        eos, pad = self.target.eos_id, self.source.pad_id  # as decode_sequences pads
        for at in range(0, len(order), config.batch_size):
            indices = order[at:at + config.batch_size]
            rows = [sequences[i] or [eos] for i in indices]  # as collate makes them
            lengths = np.array([len(row) for row in rows], dtype=np.int64)
            src = np.full((len(rows), int(lengths.max())), pad, dtype=np.int64)
            for row, ids in enumerate(rows):
                src[row, : len(ids)] = ids
            found = search.decode(self.model, src, lengths, self.target.bos_id,
                                  self.target.eos_id, config)
            for index, nbest in zip(indices, found):
                results[index] = nbest
        return results

    def translate(self, sentences: list[str], beam: int | None = None, nbest: int = 1,
                  alpha: float | None = None, scores: bool = False, **settings):
        """Translations of ``sentences``: strings, or with ``scores`` (or ``nbest`` > 1) lists
        of :class:`Translation`, best first. Other keyword arguments change decoding
        settings by name (``min_len=3``, ``no_repeat_ngram=2``, ``max_len_ratio=1.5``). A
        sentence left untranslated (over :attr:`max_input_len`, or no hypothesis) is ``""``
        (or ``[]``), with a warning."""
        config = self.search_config(
            {"beam_size": "beam", "nbest": "nbest", "alpha": "alpha"},
            beam_size=beam, nbest=nbest, alpha=alpha, **settings)
        lines = self.translate_lines(list(sentences), config)
        return api_results(lines, self.max_input_len, scores or nbest > 1)


def _search_config(path: Path, settings: object) -> SearchConfig:
    fields = {field.name for field in dataclasses.fields(SearchConfig)}
    if not isinstance(settings, dict) or set(settings) - fields:
        unknown = sorted(set(settings) - fields) if isinstance(settings, dict) else settings
        raise UserError(f"{path}: search: expected decoding settings ({sorted(fields)}), "
                        f"got {unknown!r:.80}")
    config = SearchConfig(**settings)
    config.check()
    return config


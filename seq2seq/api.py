"""The Python API of a trained translation run: ``Translator.from_pretrained(run_dir)``.

Example::

    translator = Translator.from_pretrained("runs/fra-eng")
    translator.translate(["I am cold."], beam=5)             # ["J'ai froid."]
    best = translator.translate(["I am cold."], beam=5, nbest=3)[0]   # 3 Translations
    best[0].text, best[0].score                              # text, log-probability
    translator.translate(["I am cold."], sample=True, temperature=0.7, top_k=10, seed=1)
    translator.align("I am cold.").attention.weights        # models with attention
    Translator.from_pretrained("runs/a", ensemble=["runs/b"])  # two runs' models as one
"""

from __future__ import annotations

import filecmp
from collections.abc import Sequence
from pathlib import Path

import torch

from seq2seq.base.errors import UserError
from seq2seq.base.results import api_results
from seq2seq.runs import load_run
from seq2seq.search import SearchConfig
from seq2seq.tasks.translation import (
    Alignment,
    TranslatedLine,
    Translation,
    read_training_lengths,
    translate_lines,
    translate_texts,
)

__all__ = ["Alignment", "Translation", "Translator"]

MAX_INPUT_TIMES_LONGEST = 4  # default input limit: 4x the longest training source
MAX_INPUT_WITHOUT_LENGTHS = 1000  # ... or this, for a run saved without training lengths


class Translator:
    """A trained encoder-decoder with its tokenizers and decoding settings.

    ``max_input_len``: sources of more tokens are not translated (an empty result and a
    warning); 0 means no limit. :meth:`from_pretrained` sets it to 4 times the longest
    training source of the run (1,000 for runs saved without that figure).
    ``ensemble_recipes``: the recipes of an ensemble's other members, by directory (``{}``
    for one model).
    """

    def __init__(self, model, source, target, search: SearchConfig, recipe=None,
                 max_input_len: int = 0, ensemble_recipes: dict | None = None) -> None:
        self.model, self.source, self.target = model.eval(), source, target
        self.search, self.recipe, self.max_input_len = search, recipe, max_input_len
        self.ensemble_recipes = ensemble_recipes or {}

    @classmethod
    def from_pretrained(cls, run_dir: str | Path, which: str = "best",
                        device: str | torch.device = "cpu",
                        ensemble: Sequence[str | Path] = ()) -> Translator:
        """Load a run directory's ``best`` (or ``last``) checkpoint, or a checkpoint directory,
        onto ``device``.

        With ``ensemble`` (more run or checkpoint directories, trained on the same data),
        their models decode together with ``run_dir``'s (:class:`~seq2seq.models.ensemble.
        Ensemble`); ``run_dir`` gives the tokenizers, decoding settings and input limit.
        A member that cannot be loaded, that was saved with other tokenizers than
        ``run_dir``'s, or that is named twice is a :class:`UserError` naming it.
        """
        run = load_run(run_dir, which, expected_task="translation")
        model, recipes = run.model, {}
        if ensemble:
            from seq2seq.models.ensemble import Ensemble

            members = load_members(run, run_dir, ensemble, which)
            model = Ensemble([run.model, *(member.model for member in members)])
            recipes = {str(other): member.recipe for other, member in zip(ensemble, members)}
        model.to(device)
        longest = read_training_lengths(run.checkpoint).get("longest_source_tokens")
        limit = MAX_INPUT_TIMES_LONGEST * longest if longest else MAX_INPUT_WITHOUT_LENGTHS
        return cls(model, run.tokenizers["source"], run.tokenizers["target"],
                   run.recipe.decode, run.recipe, limit, recipes)

    @property
    def has_attention(self) -> bool:
        return self.model.attention is not None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def search_config(self, names: dict[str, str] | None = None, **changes) -> SearchConfig:
        """The run's decoding settings with ``changes`` (``beam_size=5``, ``alpha=0.6``, ...),
        checked; an error names a changed setting as ``names`` says (a flag, an argument)
        and any other as ``decode.KEY``."""
        return self.search.changed(names, **changes)

    def hypotheses(self, sentences: list[str], config: SearchConfig,
                   generator: torch.Generator | None = None) -> list[list[Translation]]:
        """Every sentence's n-best list, in the input's order, decoded in length-sorted
        batches. An empty sentence gets one empty translation; one over
        :attr:`max_input_len`, or one for which the search finds no hypothesis, gets ``[]``."""
        return translate_texts(self.model, self.source, self.target, sentences, config,
                               self.max_input_len, generator)

    def translate_lines(self, sentences: list[str], config: SearchConfig,
                        generator: torch.Generator | None = None,
                        attention: bool = False) -> list[TranslatedLine]:
        """:meth:`hypotheses` with each sentence's length in source tokens and, for an
        empty list, the reason (``"too long"`` or ``"no hypothesis"``); with
        ``attention``, each hypothesis's :class:`Alignment` (models with attention)."""
        return translate_lines(self.model, self.source, self.target, sentences, config,
                               self.max_input_len, generator, attention)

    def align(self, sentence: str, beam: int | None = None) -> Translation:
        """The best translation of ``sentence`` with its :class:`Alignment` (the source x
        output attention weights). A sentence that cannot be translated (empty, over
        :attr:`max_input_len`, no hypothesis) is a :class:`UserError` saying why."""
        if not sentence.strip():
            raise UserError("align: expected a sentence, got an empty one")
        # the best hypothesis only, searched for (greedy or beam), whatever n-best or
        # sampling the run decodes with
        config = self.search_config({"beam_size": "beam"}, beam_size=beam, nbest=1,
                                    sample=False, temperature=1.0, top_k=0)
        (line,) = self.translate_lines([sentence], config, attention=True)
        if line.untranslated == "too long":
            raise UserError(f"align: {line.source_tokens:,} source tokens, over "
                            f"max_input_len {self.max_input_len:,}")
        if line.untranslated:
            raise UserError("align: the search found no hypothesis (decode.min_len and "
                            "decode.no_repeat_ngram forbid every output)")
        return line.hypotheses[0]

    def translate(self, sentences: list[str], beam: int | None = None, nbest: int = 1,
                  alpha: float | None = None, scores: bool = False, sample: bool = False,
                  temperature: float | None = None, top_k: int | None = None,
                  seed: int | None = None, **search):
        """Translations of ``sentences``: strings, or with ``scores`` (or ``nbest`` > 1) lists
        of :class:`Translation`, best first.

        ``sample=True`` draws each output token from ``softmax(logits / temperature)``
        (among the ``top_k`` most probable when given), from a generator seeded with
        ``seed`` (torch's default generator when ``None``). A sentence left untranslated
        (over :attr:`max_input_len`, or no hypothesis found) is ``""`` (or ``[]``), with a
        warning.
        """
        if sample:
            search["sample"], beam = True, 1 if beam is None else beam
        config = self.search_config(
            {"beam_size": "beam", "nbest": "nbest", "alpha": "alpha", "sample": "sample=True",
             "temperature": "temperature", "top_k": "top_k"},
            beam_size=beam, nbest=nbest, alpha=alpha, temperature=temperature, top_k=top_k,
            **search)
        if seed is not None and not config.sample:  # as --seed without --sample
            raise UserError("seed: applies only to sampling; set sample=True (or leave it "
                            "at None)")
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        lines = self.translate_lines(list(sentences), config, generator)
        return api_results(lines, self.max_input_len, scores or nbest > 1)


def load_members(run, run_dir, others: Sequence[str | Path], which: str) -> list:
    """The runs ``others`` (:func:`~seq2seq.runs.load_run`) to decode with ``run``: each
    must load as a translation run saved with ``run``'s tokenizers (every file of them: a
    SentencePiece tokenizer's model too), and none may be named twice (nor be ``run``
    itself), which would silently weigh that model double."""
    seen = {Path(run.checkpoint).resolve(): run_dir}
    members = []
    for other in others:
        try:
            member = load_run(other, which, expected_task="translation")
        except UserError as error:
            raise UserError(f"ensemble member: {error}") from None
        where = Path(member.checkpoint).resolve()
        if where in seen:
            raise UserError(f"ensemble member {other}: the same checkpoint as {seen[where]}; "
                            "name each run once")
        seen[where] = other
        for side in ("source", "target"):
            differs = _first_file_differing(Path(run.checkpoint), Path(member.checkpoint),
                                            f"{side}.*")
            if differs is not None:
                raise UserError(f"ensemble member {other}: its {side} tokenizer "
                                f"({Path(member.checkpoint) / differs}) differs from "
                                f"{run_dir}'s: ensemble members must share their tokenizers "
                                "(train them on the same data)")
        members.append(member)
    return members


def _first_file_differing(directory: Path, other: Path, pattern: str) -> str | None:
    """The first name matching ``pattern`` in either directory whose file is missing from
    one of them or differs in its bytes (None: the same files)."""
    names = sorted({p.name for folder in (directory, other) for p in folder.glob(pattern)})
    _, differing, unreadable = filecmp.cmpfiles(directory, other, names, shallow=False)
    return min(differing + unreadable, default=None)

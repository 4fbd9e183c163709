"""The torch-free pieces that the torch side and the export runtime both use.

* :mod:`seq2seq.base.errors`: :class:`~seq2seq.base.errors.UserError`, the one exception
  for bad user input (the CLI prints it as one line);
* :mod:`seq2seq.base.files`: reading JSON objects and writing files atomically;
* :mod:`seq2seq.base.tokenizers`: the tokenizers, their files and ``load_tokenizer``;
* :mod:`seq2seq.base.search_settings`: :class:`~seq2seq.base.search_settings.SearchConfig`,
  a recipe's ``[decode]`` table, which both searches read;
* :mod:`seq2seq.base.results`: what a search and a translation give (``Hypothesis``,
  ``Translation``, ``TranslatedLine``, ``Alignment``) and the rule that turns lines into them.

Who imports it: the runtime (:mod:`seq2seq.runtime`) reads an export with it; the torch
side builds on it (``seq2seq.config`` and ``seq2seq.checkpoint`` write and read files with
it, ``seq2seq.tokenizers`` adds training to its tokenizers, ``seq2seq.search`` takes its
settings and hypotheses, the tasks, the API and the CLI its errors and results).

It imports only the standard library and what the tokenizers need (``regex`` for
grapheme clusters, ``sentencepiece``): never torch, NumPy or onnxruntime, and nothing
else of the toolkit. This package imports none of its modules, so importing one costs
only that module.
"""

"""A run's single- and multi-reference scores with the scorer of ``seq2seq.metrics`` and with
the rule it replaced (missing references padded with ``""``, closest reference by lowest
error rate), on the same decoded outputs: the before/after figures of the README.

    python scripts/multi_reference_scores.py RUN_DIR HELD_OUT.txt|valid|test METRICS BEAM
    python scripts/multi_reference_scores.py runs/fra-eng valid chrf,bleu,ter 1
"""

from __future__ import annotations

import json
import sys

import jiwer

from seq2seq import metrics
from seq2seq.api import Translator
from seq2seq.data.pairs import read_pairs
from seq2seq.evaluation import evaluate_pairs
from seq2seq.tasks.translation import load_splits


def padded_with_empty_strings(references):
    width = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else "" for refs in references] for k in range(width)]


def closest_by_rate(hypotheses, references, align):
    measure = {jiwer.process_words: jiwer.wer, jiwer.process_characters: jiwer.cer}[align]
    chosen = [min(refs, key=lambda ref: measure(ref or " ", hyp or " "))
              for hyp, refs in zip(hypotheses, references)]
    return 100.0 * measure([r or " " for r in chosen], [h or " " for h in hypotheses])


def main(run_dir: str, held_out: str, names: str, beam: str) -> None:
    translator = Translator.from_pretrained(run_dir)
    if held_out in ("valid", "test"):
        pairs = getattr(load_splits(translator.recipe.data), held_out)
    else:
        pairs, _ = read_pairs(held_out, translator.recipe.data)
    config = translator.search_config(beam_size=int(beam))
    fixed = evaluate_pairs(translator, pairs, names.split(","), config)
    metrics._reference_streams = padded_with_empty_strings
    metrics._edit_rate = closest_by_rate
    earlier = evaluate_pairs(translator, pairs, names.split(","), config)
    print(json.dumps({"run": run_dir, "beam": int(beam), "pairs": fixed.pairs,
                      "sources": fixed.distinct_sources, "single": fixed.single_reference,
                      "multi": fixed.multi_reference,
                      "multi_earlier_rule": earlier.multi_reference}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])

"""``python -m seq2seq``: the same as the ``seq2seq`` command."""

from seq2seq.cli import main

main()

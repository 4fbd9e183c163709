"""The old import path of :class:`UserError`, which lives in :mod:`seq2seq.base.errors`."""

from seq2seq.base.errors import UserError  # noqa: F401

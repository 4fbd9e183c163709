"""The one exception type for bad user input; it lives in the torch-free runtime
(:mod:`seq2seq.runtime.errors`) so that the export runtime raises the same one."""

from seq2seq.runtime.errors import UserError

__all__ = ["UserError"]

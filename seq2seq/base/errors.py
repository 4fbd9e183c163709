"""The one exception type for bad user input (files, lines, fields, checkpoints).

The CLI prints its message as one line and exits non-zero, without a traceback, so the
message must name what is wrong and where: the file and line, or the field, with the
expected and the actual value.
"""


class UserError(Exception):
    """Bad input from the user: a file, a line, a field, a checkpoint."""

"""seq2seq: character-level sequence learning on one Keras-exact recurrent core."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seq2seq")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

"""The one exception type users see: a single-line message, no traceback."""


class W2GMError(Exception):
    """A problem with the user's input (file, option or value), explained in one line."""


class ModelFileError(W2GMError):
    """A model file that is missing, truncated, foreign or of an unsupported version."""

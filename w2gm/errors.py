"""The one exception type users see: a single-line message, no traceback."""


class W2GMError(Exception):
    """A problem with the user's input (file, option or value), explained in one line.

    Line breaks inside the message (from a path, or the text of a library's error) become
    spaces, so the command line always prints exactly one line."""

    def __str__(self) -> str:
        return " ".join(super().__str__().splitlines())


class ModelFileError(W2GMError):
    """A model file that is missing, truncated, foreign or of an unsupported version."""


def os_reason(error: BaseException) -> str:
    """The operating system's words for a failed file operation ("No space left on device"),
    or the error's own text when it carries none."""
    return getattr(error, "strerror", None) or str(error)

"""The exception types users see: a single-line message, no traceback."""

from __future__ import annotations


class W2GMError(Exception):
    """A problem with the user's input (file, option or value), explained in one line.

    Line breaks inside the message (from a path, or the text of a library's error) become
    spaces, so the command line always prints exactly one line."""

    def __str__(self) -> str:
        # BaseException's text, not KeyError's quoted repr, for the KeyError subclass below
        return " ".join(BaseException.__str__(self).splitlines())


class UnknownKeyError(W2GMError, KeyError):
    """A word or ``word:k`` key the model does not have.  Also a :class:`KeyError`, as
    gensim's ``KeyedVectors`` raises for an unknown key, so ``except KeyError`` code works."""


class QueryError(W2GMError, ValueError, ZeroDivisionError):
    """A query that cannot be computed (no keys, no known word): a :class:`ValueError`
    as gensim raises, and a :class:`ZeroDivisionError` as its ``n_similarity`` raises."""


class NotApplicableError(W2GMError, NotImplementedError):
    """A gensim ``KeyedVectors`` method that has no meaning on a mixture model (one that
    edits the vectors: they are derived from the model's Gaussians)."""


class ModelFileError(W2GMError):
    """A model file that is missing, truncated, foreign or of an unsupported version."""


class TextError(W2GMError):
    """A fault at a line of a text (and perhaps a byte of it).  A reader of one piece of a
    file counts both from the start of its piece; :meth:`shifted` places them in the file."""

    def __init__(self, name: str, line: int, what: str, byte: int | None = None) -> None:
        self.name, self.line, self.what, self.byte = name, line, what, byte
        super().__init__(f"{name}:{line}: {what.format(byte=byte)}")

    def __reduce__(self) -> tuple:  # raised in a worker process, re-raised here
        return TextError, (self.name, self.line, self.what, self.byte)

    def shifted(self, lines: int, offset: int) -> TextError:
        """The same fault in a text that has ``lines`` line breaks and ``offset`` bytes before this one."""
        byte = None if self.byte is None else self.byte + offset
        return TextError(self.name, self.line + lines, self.what, byte)


def os_reason(error: BaseException) -> str:
    """The operating system's words for a failed file operation ("No space left on device"),
    or the error's own text when it carries none."""
    return getattr(error, "strerror", None) or str(error)

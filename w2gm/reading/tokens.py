"""Blocks of bytes to whitespace tokens, with the errors that stop reading.

Bytes are decoded as UTF-8 (undecodable bytes replaced by U+FFFD and counted, or an error)
and split on whitespace; a token cut by a block edge is carried to the next block, so the
tokens are the text's whatever the block size.  Binary data (a NUL byte, many control
characters, a run of characters with no whitespace) is an error naming the file and line.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

from ..errors import TextError, W2GMError
from .files import Advance, Source, open_source

#: A run of this many characters with no whitespace is not text (a binary or base64 blob).
MAX_TOKEN_CHARS = 100_000
#: C0 control characters that are not whitespace to str.split(), and DEL: text holds next to
#: none, arbitrary binary data about one byte in eleven.
_CONTROL = re.compile("[\x01-\x08\x0e-\x1b\x7f]")
#: A file whose first block has a larger share of control characters is binary, not text.
MAX_CONTROL_SHARE = 0.01
#: Whitespace other than the common four (str.split() breaks on all of it): where to cut a
#: block that holds none of the common ones, such as text spaced with U+3000 only.
_SPACE = re.compile(r"\s")
BYTE_ORDER_MARK = "\ufeff"


def _check_not_binary(first_text: str, name: str) -> None:
    """Binary data with no NUL byte still shows itself by its control characters."""
    controls = len(_CONTROL.findall(first_text))
    if controls > MAX_CONTROL_SHARE * len(first_text):
        raise W2GMError(
            f"{name}: looks like a binary file ({controls} control characters in its first "
            f"{len(first_text)}), not text"
        )


def _long_token(name: str, line: int) -> TextError:
    return TextError(name, line, f"a token longer than {MAX_TOKEN_CHARS} characters; is this a text file?")


def _last_space(text: str) -> int:
    """Where the last whitespace of ``text`` is, -1 if none."""
    cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"), text.rfind("\r"))
    if cut < 0:
        # the first whitespace of the reversed text (a lookahead to the end would be quadratic)
        rare = _SPACE.search(text[::-1])
        cut = len(text) - 1 - rare.start() if rare else -1
    return cut


class _CountingReplace:
    """A codecs error handler that replaces undecodable bytes with U+FFFD and counts them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, error: UnicodeDecodeError) -> tuple[str, int]:
        self.count += error.end - error.start
        return "\ufffd", error.end


_replacements = _CountingReplace()
codecs.register_error("w2gm-count-replace", _replacements)


def replaced_bytes() -> int:
    """Undecodable bytes this process has replaced with U+FFFD so far (a reader takes the
    difference before and after)."""
    return _replacements.count


def iter_token_blocks(
    path: Source, encoding_errors: str = "replace", advance: Advance | None = None
) -> Iterator[list[str]]:
    """Yield the whitespace tokens of ``path`` (or standard input) in order, a block at a
    time.  Errors name the file and the line (counted in the decompressed text)."""
    with open_source(path) as source:
        yield from token_blocks(source.blocks(advance), source.name, encoding_errors)


def token_blocks(
    blocks: Iterable[bytes], name: str, encoding_errors: str = "replace", at_start: bool = True
) -> Iterator[list[str]]:
    """The whitespace tokens of a text given as blocks of bytes ending with an empty one.
    ``at_start``: the blocks begin the file, so its first block is checked for binary data
    and a byte-order mark is dropped; otherwise they begin just after a whitespace
    character, and lines and bytes in errors count from there."""
    errors = "w2gm-count-replace" if encoding_errors == "replace" else "strict"
    decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
    carry = ""  # the last, perhaps unfinished, token of the text so far: never holds a line break
    offset = 0  # bytes read so far
    lines = 0  # line breaks before ``carry``
    for data in blocks:
        if b"\x00" in data:
            at = data.index(0)
            line = lines + data.count(b"\n", 0, at) + 1
            raise TextError(name, line, "looks like a binary file (NUL byte at byte {byte}), not text", offset + at)
        pending = len(decoder.getstate()[0])  # bytes of a character cut by the last block
        try:
            text = carry + decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            line = lines + error.object.count(b"\n", 0, error.start) + 1
            raise TextError(
                name, line, "invalid UTF-8 at byte {byte} (use --encoding-errors replace to substitute U+FFFD)",
                offset - pending + error.start,
            ) from None
        if offset == 0 and text and at_start:
            _check_not_binary(text, name)
            # a byte-order mark says "UTF-8"; it is not part of the first word
            text = text.removeprefix(BYTE_ORDER_MARK)
        offset += len(data)
        if data:
            cut = _last_space(text)
            if cut < 0 and len(text) > MAX_TOKEN_CHARS:
                raise _long_token(name, lines + 1)
            # keep the tail after the last whitespace for the next block, so that no
            # token is cut in two
            text, carry = (text[: cut + 1], text[cut + 1 :]) if cut >= 0 else ("", text)
        tokens = text.split()
        if tokens and max(map(len, tokens)) > MAX_TOKEN_CHARS:
            too_long = next(t for t in tokens if len(t) > MAX_TOKEN_CHARS)
            raise _long_token(name, lines + text.count("\n", 0, text.find(too_long)) + 1)
        lines += text.count("\n")
        if tokens:
            yield tokens
        if not data:
            return

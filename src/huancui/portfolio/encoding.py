"""Which text encoding a delivered CSV file uses: UTF-8 (with or without BOM) or GB18030.

Chinese core-banking exports are often GB18030 (a superset of GBK/GB2312). A file that mixes the two
is refused with the first row of each kind, because guessing would corrupt names silently.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

UTF8 = "utf-8"
GB18030 = "gb18030"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class EncodingProblem:
    row: int
    message: str


def detect_encoding(path: Path) -> str | EncodingProblem:
    """Return the encoding name, or the problem that makes the file unreadable as one encoding."""
    if _decodes_as_utf8(path):
        return UTF8
    return _classify_lines(path)


def _decodes_as_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder(UTF8)(errors="strict")
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _classify_lines(path: Path) -> str | EncodingProblem:
    """The file is not UTF-8: check it is GB18030 throughout and not a mix of the two."""
    first_utf8_row = 0
    first_gb_row = 0
    with path.open("rb") as fh:
        for row, line in enumerate(fh, start=1):
            if line.isascii():
                continue
            try:
                line.decode(UTF8)
            except UnicodeDecodeError:
                try:
                    line.decode(GB18030)
                except UnicodeDecodeError:
                    return EncodingProblem(
                        row, "text is neither UTF-8 nor GB18030; re-export the file as UTF-8"
                    )
                first_gb_row = first_gb_row or row
            else:
                first_utf8_row = first_utf8_row or row
            if first_utf8_row and first_gb_row:
                return EncodingProblem(
                    max(first_utf8_row, first_gb_row),
                    f"mixed encodings: row {first_utf8_row} is UTF-8 but row {first_gb_row} is "
                    "GB18030; re-export the whole file in one encoding",
                )
    return GB18030

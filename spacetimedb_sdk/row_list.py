"""``BsatnRowList``: the packed rows of one table inside a v2 server message.

A row list is a size hint plus one byte string holding the BSATN of every row back to back
(docs/protocol.md#row-lists). The hint is either ``FixedSize(n)`` (every row is ``n`` bytes) or
``RowOffsets([...])`` (the start offset of each row). The raw bytes of each row are the row's
identity in the client cache, so :meth:`BsatnRowList.rows` hands out exact ``bytes`` slices;
:meth:`BsatnRowList.decode_rows` turns them into values with a compiled codec.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, TypeAlias, TypeVar

from spacetimedb_sdk.bsatn import BsatnCodec
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnEncodeError

__all__ = ["MAX_FIXED_ROW_SIZE", "BsatnRowList", "FixedSize", "RowOffsets", "RowSizeHint"]

T = TypeVar("T")

#: The largest row size a ``FixedSize`` hint can carry (it is a u16 on the wire).
MAX_FIXED_ROW_SIZE = 0xFFFF

# Fixed-size rows are cut with one struct call per chunk of this many rows ("24s24s24s..."),
# which is several times faster than slicing row by row and keeps each format string small.
_SPLIT_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class FixedSize:
    """Size hint: every row in the list is exactly ``size`` bytes (tag 0)."""

    size: int
    TAG: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class RowOffsets:
    """Size hint: ``offsets[i]`` is where row ``i`` starts in ``rows_data`` (tag 1)."""

    offsets: list[int]
    TAG: ClassVar[int] = 1


RowSizeHint: TypeAlias = FixedSize | RowOffsets


@lru_cache(maxsize=128)
def _row_splitter(size: int, count: int) -> struct.Struct:
    return struct.Struct(f"{size}s" * count)


class BsatnRowList:
    """The rows of one table in one message: a size hint and the concatenated row bytes.

    Construction validates the hint against the data (so a decoded message never holds a row
    list that cannot be split): ``FixedSize`` must be non-zero and divide the data length;
    ``RowOffsets`` must start at 0, never decrease and stay within the data, and an empty offset
    list means empty data. Violations raise :class:`~spacetimedb_sdk.errors.BsatnDecodeError`.
    Instances are not meant to be mutated.
    """

    __slots__ = ("_checked", "_count", "rows_data", "size_hint")

    size_hint: RowSizeHint
    rows_data: bytes

    def __init__(
        self, size_hint: RowSizeHint, rows_data: bytes | bytearray | memoryview = b""
    ) -> None:
        data = rows_data if type(rows_data) is bytes else bytes(rows_data)
        length = len(data)
        if isinstance(size_hint, FixedSize):
            size = size_hint.size
            if size <= 0:
                raise BsatnDecodeError(f"row size hint FixedSize({size}) must be positive")
            count, extra = divmod(length, size)
            if extra:
                raise BsatnDecodeError(
                    f"rows_data of {length} bytes is not a whole number of {size}-byte rows"
                )
        elif isinstance(size_hint, RowOffsets):
            offsets = size_hint.offsets
            count = len(offsets)
            if not count:
                if length:
                    raise BsatnDecodeError(f"RowOffsets is empty but rows_data has {length} bytes")
            elif offsets[0] != 0:
                raise BsatnDecodeError(f"the first row offset is {offsets[0]}, not 0")
            elif offsets[-1] > length:
                raise BsatnDecodeError(
                    f"row offset {offsets[-1]} is past the end of {length} bytes of rows_data"
                )
            elif sorted(offsets) != offsets:  # C-speed monotonicity check
                raise BsatnDecodeError("row offsets are not in ascending order")
        else:
            raise TypeError(
                f"size_hint must be FixedSize or RowOffsets, not {type(size_hint).__name__}"
            )
        self.size_hint = size_hint
        self.rows_data = data
        self._count = count
        self._checked: tuple[BsatnCodec[Any], list[bytes]] | None = None

    # ------------------------------------------------------------------------------ building
    @classmethod
    def from_rows(cls, rows: Iterable[bytes], fixed_size: int | None = None) -> BsatnRowList:
        """Pack encoded rows, choosing the hint the way the server does (docs/protocol.md#row-lists).

        ``fixed_size`` is the row type's static BSATN size, when it has one.
        """
        row_list = [bytes(r) for r in rows]
        if not row_list:
            return cls(RowOffsets([]), b"")
        data = b"".join(row_list)
        if fixed_size is not None and 0 < fixed_size <= MAX_FIXED_ROW_SIZE:
            if len(data) != fixed_size * len(row_list) or any(
                len(r) != fixed_size for r in row_list
            ):
                raise BsatnEncodeError(f"every row must be {fixed_size} bytes for FixedSize")
            return cls(FixedSize(fixed_size), data)
        first = len(row_list[0])
        if (
            0 < first <= MAX_FIXED_ROW_SIZE
            and len(data) == first * len(row_list)
            and all(len(r) == first for r in row_list)
        ):
            return cls(FixedSize(first), data)
        offsets: list[int] = []
        pos = 0
        for r in row_list:
            offsets.append(pos)
            pos += len(r)
        return cls(RowOffsets(offsets), data)

    # ------------------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.rows())

    def rows(self) -> list[bytes]:
        """The BSATN of each row, as separate ``bytes`` objects, in order."""
        if not self._count:
            return []
        data = self.rows_data
        hint = self.size_hint
        if isinstance(hint, FixedSize):
            size = hint.size
            full, rest = divmod(self._count, _SPLIT_CHUNK)
            out: list[bytes] = []
            if full:
                unpack_from = _row_splitter(size, _SPLIT_CHUNK).unpack_from
                step = size * _SPLIT_CHUNK
                for i in range(full):
                    out += unpack_from(data, i * step)
            if rest:
                out += _row_splitter(size, rest).unpack_from(data, full * size * _SPLIT_CHUNK)
            return out
        starts = hint.offsets
        ends = starts[1:]
        ends.append(len(data))
        return [data[a:b] for a, b in zip(starts, ends, strict=True)]

    def decode_rows(self, codec: BsatnCodec[T]) -> list[T]:
        """Decode every row with ``codec`` (the table's row type); each row must fill its slice.

        With ``FixedSize(n)`` and a codec whose type is statically ``n`` bytes, the whole list is
        decoded in one pass (one ``struct.iter_unpack`` for flat fixed-width rows).
        """
        if not self._count:
            return []
        data = self.rows_data
        hint = self.size_hint
        fixed = codec.fixed_size
        if isinstance(hint, FixedSize):
            size = hint.size
            if fixed == size:
                return codec.decode_concatenated(data)
            if fixed is not None:
                raise BsatnDecodeError(
                    f"row size hint FixedSize({size}) does not match the row type's size {fixed}"
                )
            starts: Iterable[int] = range(0, len(data), size)
            ends: Iterable[int] = range(size, len(data) + size, size)
        else:
            starts = hint.offsets
            end_list = hint.offsets[1:]
            end_list.append(len(data))
            ends = end_list
        out: list[T] = []
        append = out.append
        decode_from = codec.decode_from
        for start, end in zip(starts, ends, strict=True):
            value, pos = decode_from(data, start)
            if pos != end:
                raise _row_mismatch(start, end, pos)
            append(value)
        return out

    def validated_rows(self, codec: BsatnCodec[Any]) -> list[bytes]:
        """:meth:`rows`, after checking every row against ``codec`` (see :meth:`validate`).

        The result is remembered for ``codec``: a second call returns the same list, so a
        message can be checked whole before any of it is applied, then applied without
        splitting twice. Callers must not mutate the list.
        """
        checked = self._checked
        if checked is not None and checked[0] is codec:
            return checked[1]
        if isinstance(self.size_hint, RowOffsets) and codec.fixed_size is None:
            ends = self.size_hint.offsets[1:]
            ends.append(len(self.rows_data))
            rows = codec.split_validated(self.rows_data, self.size_hint.offsets, ends)
        else:
            self.validate(codec)
            rows = self.rows()
        self._checked = (codec, rows)
        return rows

    def validate(self, codec: BsatnCodec[Any]) -> None:
        """Check every row against ``codec`` as strictly as :meth:`decode_rows`, building nothing.

        Raises :class:`~spacetimedb_sdk.errors.BsatnDecodeError` (offsets into ``rows_data``) for
        the first malformed row; rows that pass decode without error.
        """
        if not self._count:
            return
        data = self.rows_data
        hint = self.size_hint
        fixed = codec.fixed_size
        if isinstance(hint, FixedSize):
            size = hint.size
            if fixed == size:
                codec.validate_concatenated(data)
                return
            if fixed is not None:
                raise BsatnDecodeError(
                    f"row size hint FixedSize({size}) does not match the row type's size {fixed}"
                )
            codec.validate_spans(
                data, range(0, len(data), size), range(size, len(data) + size, size)
            )
            return
        ends = hint.offsets[1:]
        ends.append(len(data))
        codec.validate_spans(data, hint.offsets, ends)

    # ------------------------------------------------------------------------------ dunder
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BsatnRowList):
            return NotImplemented
        return self.size_hint == other.size_hint and self.rows_data == other.rows_data

    __hash__ = None  # type: ignore[assignment]  # equality by value over a mutable offset list

    def __repr__(self) -> str:
        if len(self.rows_data) <= 32:
            return f"BsatnRowList({self.size_hint!r}, {self.rows_data!r})"
        hint: Any = self.size_hint
        if isinstance(hint, RowOffsets):
            hint = f"RowOffsets(<{len(hint.offsets)} offsets>)"
        return f"BsatnRowList({hint}, <{len(self.rows_data)} bytes, {self._count} rows>)"


def _row_mismatch(start: int, end: int, pos: int) -> BsatnDecodeError:
    if pos > end:
        return BsatnDecodeError(
            f"row at {start} runs {pos - end} byte(s) past its end at {end}", end
        )
    return BsatnDecodeError(f"row at {start} leaves {end - pos} unread byte(s) before {end}", pos)

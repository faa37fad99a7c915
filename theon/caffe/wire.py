"""A reader of protobuf's binary wire format for the messages of schema.py (a .caffemodel
is one NetParameter).

It trusts nothing in the file: every length is checked against the bytes left in the
enclosing message before anything is read, varints longer than ten bytes or beyond 64 bits
are refused, a known field with the wrong wire type or an out-of-range value is an error,
and unknown fields are skipped without being looked into. Nothing is allocated from a
declared size: packed numbers become NumPy views of the file's own bytes, so memory stays
within the file's size, and nesting is bounded by the schema (no message contains itself).
Errors are CaffeFormatErrors naming the file, the byte offset and the path of fields
("layer[12] 'conv1' > blobs[0] > data").
"""
from __future__ import annotations

import struct

import numpy as np

from .errors import CaffeFormatError
from .schema import ENUMS, INTEGER_RANGES, MESSAGES, VARINT_KINDS, Message

__all__ = ["parse_message"]

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
_WIRE_NAMES = {VARINT: "varint", FIXED64: "64-bit", LENGTH: "length-delimited", START_GROUP: "group start",
               END_GROUP: "group end", FIXED32: "32-bit"}
_SCALAR_WIRE = {"float": FIXED32, "double": FIXED64, **{k: VARINT for k in VARINT_KINDS}}
_PACKED = {"float": "<f4", "double": "<f8"}
_MAX_FIELD = 2**29 - 1
_ENUM_NAMES = {name: {v: k for k, v in values.items()} for name, values in ENUMS.items()}


class _Reader:
    def __init__(self, data, where: str):
        self.data = data if isinstance(data, (bytes, memoryview)) else bytes(data)
        self.where = where
        self.path: list = []

    def fail(self, pos: int, message: str):
        path = " > ".join(self.path)
        raise CaffeFormatError(f"{self.where}: {message} (at byte {pos}{', in ' + path if path else ''})")

    def varint(self, pos: int, end: int) -> tuple:
        data = self.data
        if pos < end and data[pos] < 0x80:  # most numbers and keys take one byte
            return data[pos], pos + 1
        result, shift = 0, 0
        for i in range(10):
            if pos >= end:
                self.fail(pos, "the data ends inside a number (truncated or corrupted)")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                if i == 9 and b > 1:
                    self.fail(pos, "a number overflows 64 bits (corrupted)")
                return result, pos
            shift += 7
        self.fail(pos, "a number is longer than 10 bytes (corrupted)")

    def length(self, pos: int, end: int) -> tuple:
        start = pos
        n, pos = self.varint(pos, end)
        if n > end - pos:
            self.fail(start, f"a field declares {n:,} bytes but only {end - pos:,} remain "
                             f"(truncated, or not a caffemodel)")
        return n, pos

    def skip(self, wire: int, pos: int, end: int) -> int:
        if wire == VARINT:
            return self.varint(pos, end)[1]
        if wire == LENGTH:
            n, pos = self.length(pos, end)
            return pos + n
        size = {FIXED64: 8, FIXED32: 4}.get(wire)
        if size is None:
            self.fail(pos, f"wire type {wire} ({_WIRE_NAMES.get(wire, 'invalid')}) is not used by Caffe "
                           f"(corrupted, or not a caffemodel)")
        if pos + size > end:
            self.fail(pos, "the data ends inside a number (truncated)")
        return pos + size

    def scalar(self, field, value: int, pos: int):
        kind = field.kind
        if kind == "bool":
            return value != 0
        if kind in ("int32", "int64", "enum") and value >= 2**63:
            value -= 2**64  # negative numbers are ten-byte two's complement
        lo, hi = INTEGER_RANGES.get("int32" if kind == "enum" else kind, (None, None))
        if lo is not None and not lo <= value <= hi:
            self.fail(pos, f"field {field.name!r} holds {value}, outside the range of {kind}")
        if kind == "enum":
            return _ENUM_NAMES[field.target].get(value, value)
        return value

    def fixed(self, kind: str, pos: int, end: int) -> tuple:
        size, fmt = (4, "<f") if kind == "float" else (8, "<d")
        if pos + size > end:
            self.fail(pos, "the data ends inside a number (truncated)")
        return struct.unpack_from(fmt, self.data, pos)[0], pos + size

    def packed(self, field, pos: int, end: int) -> tuple:
        n, pos = self.length(pos, end)
        stop = pos + n
        if field.kind in _PACKED:
            dtype = np.dtype(_PACKED[field.kind])
            if n % dtype.itemsize:
                self.fail(pos, f"packed field {field.name!r} holds {n} bytes, not a whole number of "
                               f"{field.kind}s (corrupted)")
            return np.frombuffer(self.data, dtype, n // dtype.itemsize, pos), stop
        values = []
        while pos < stop:
            raw, pos = self.varint(pos, stop)
            values.append(self.scalar(field, raw, pos))
        return values, stop

    def message(self, type_name: str, pos: int, end: int) -> Message:
        mtype = MESSAGES[type_name]
        msg = Message(mtype)
        while pos < end:
            key_at = pos
            key, pos = self.varint(pos, end)
            number, wire = key >> 3, key & 7
            if number == 0 or number > _MAX_FIELD:
                self.fail(key_at, f"field number {number} is not valid (corrupted, or not a caffemodel)")
            field = mtype.by_number.get(number)
            if field is None:
                pos = self.skip(wire, pos, end)
                continue
            if field.kind == "message":
                if wire != LENGTH:
                    self.fail(key_at, f"field {field.name!r} of {type_name} has wire type {wire}, expected a "
                                      f"message (corrupted)")
                n, pos = self.length(pos, end)
                index = len(msg.values.get(field.name, ()))
                self.path.append(f"{field.name}[{index}]" if field.repeated else field.name)
                sub = self.message(field.target, pos, pos + n)
                self.path.pop()
                msg.add(field.name, sub)
                pos += n
            elif field.kind in ("string", "bytes"):
                if wire != LENGTH:
                    self.fail(key_at, f"field {field.name!r} of {type_name} has wire type {wire}, expected "
                                      f"a string (corrupted)")
                n, pos = self.length(pos, end)
                raw = bytes(self.data[pos:pos + n])
                if field.kind == "string":
                    try:
                        raw = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        self.fail(pos, f"field {field.name!r} is not valid UTF-8 text (corrupted)")
                msg.add(field.name, raw)
                if field.name == "name" and self.path and type_name.endswith("LayerParameter"):
                    self.path[-1] += f" {raw!r}"  # later errors in this layer name it
                pos += n
            elif wire == LENGTH and field.repeated:
                self.path.append(f"{field.name}[{len(msg.values.get(field.name, ()))}]")
                values, pos = self.packed(field, pos, end)
                self.path.pop()
                if isinstance(values, list):
                    for v in values:
                        msg.add(field.name, v)
                else:
                    msg.add(field.name, values)
            elif wire == _SCALAR_WIRE[field.kind]:
                if wire == VARINT:
                    raw, pos = self.varint(pos, end)
                    msg.add(field.name, self.scalar(field, raw, pos))
                else:
                    value, pos = self.fixed(field.kind, pos, end)
                    msg.add(field.name, value)
            else:
                self.fail(key_at, f"field {field.name!r} of {type_name} has wire type {wire} "
                                  f"({_WIRE_NAMES.get(wire, 'invalid')}), expected {field.kind} (corrupted)")
        return msg


def parse_message(data, type_name: str, where: str) -> Message:
    """The message `type_name` encoded in `data` (bytes or a memoryview); `where` names the
    file in errors."""
    reader = _Reader(data, where)
    return reader.message(type_name, 0, len(reader.data))

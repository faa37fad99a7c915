"""A parser of protobuf's text format for the messages of schema.py (a .prototxt is one
NetParameter).

It accepts what protoc's text parser accepts in Caffe files: `name: value` and
`name { ... }` (or `name: { ... }`, `name < ... >`), lists `name: [1, 2]`, '#' comments,
optional ',' or ';' between fields, single- or double-quoted strings with C escapes
(adjacent strings join), numbers in decimal, hex, octal or float form (`1e-5`, `.5`,
`1.`, `inf`, `nan`, a trailing `f`), enum values by name or number, and true/false (also
True, t, 1, ...). A field the schema does not list is parsed and kept aside (its name in
`message.unknown`), so files of Caffe's forks read; the importer says so when a layer it
converts carries one. Nesting deeper than 100 levels is refused, as protoc does. Errors
are CaffeFormatErrors naming the file, line and column.
"""
from __future__ import annotations

import re

from .errors import CaffeFormatError
from .schema import ENUMS, INTEGER_RANGES, MESSAGES, Message

__all__ = ["parse_text", "MAX_DEPTH"]

MAX_DEPTH = 100

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n\f\v]+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?)(?![A-Za-z0-9_.]))
  | (?P<ident>-?[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}<>\[\]:,;])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\",
            "'": "'", '"': '"', "?": "?"}
_TRUE, _FALSE = {"true", "True", "t", "1"}, {"false", "False", "f", "0"}
_FLOAT_WORDS = {"inf": float("inf"), "infinity": float("inf"), "nan": float("nan")}
_CLOSE = {"{": "}", "<": ">"}


class _Tokens:
    """The file's tokens, scanned one at a time (a huge file costs no more memory than its text)."""

    def __init__(self, text: str, where: str):
        self.where, self.text = where, text
        self.pos = 0
        self.next = self._scan()

    def _scan(self):
        text = self.text
        while self.pos < len(text):
            m = _TOKEN.match(text, self.pos)
            if m is None:
                self.fail(self.pos, f"unexpected character {text[self.pos]!r}")
            self.pos = m.end()
            if m.lastgroup != "space":
                return (m.lastgroup, m.group(), m.start())
        return ("end", "", len(text))

    def fail(self, offset: int, message: str):
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        raise CaffeFormatError(f"{self.where}:{line}:{column}: {message}")

    def peek(self):
        return self.next

    def take(self):
        tok = self.next
        if tok[0] != "end":
            self.next = self._scan()
        return tok

    def accept(self, text: str) -> bool:
        if self.next[1] == text and self.next[0] == "punct":
            self.take()
            return True
        return False

    def describe(self, tok) -> str:
        return "the end of the file" if tok[0] == "end" else repr(tok[1])


def _unquote(tok, tokens: _Tokens) -> str:
    body, out, i = tok[1][1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            if m is None:
                tokens.fail(tok[2], "a \\x escape without hex digits")
            out.append(chr(int(m.group(), 16)))
            i += 2 + m.end()
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(chr(int(m.group(), 8)))
            i += 1 + m.end()
        else:
            tokens.fail(tok[2], f"unknown escape \\{nxt} in a string")
    return "".join(out)


def _integer(tok, tokens: _Tokens, kind: str, field: str) -> int:
    text = tok[1]
    digits = text.lstrip("+-")
    hexadecimal = digits[:2] in ("0x", "0X")
    if tok[0] != "number" or (not hexadecimal and re.search(r"[.eEfF]", digits)):
        tokens.fail(tok[2], f"field {field!r} ({kind}) takes a whole number, got {tokens.describe(tok)}")
    if hexadecimal:
        value = int(digits, 16)
    elif len(digits) > 1 and digits.startswith("0"):
        if re.search(r"[89]", digits):
            tokens.fail(tok[2], f"field {field!r}: {text} is not an octal number")
        value = int(digits, 8)
    else:
        value = int(digits)
    value = -value if text.startswith("-") else value
    lo, hi = INTEGER_RANGES[kind]
    if not lo <= value <= hi:
        tokens.fail(tok[2], f"field {field!r} holds {value}, outside the range of {kind}")
    return value


def _float(tok, tokens: _Tokens, field: str) -> float:
    text = tok[1]
    if tok[0] == "ident":
        word = text.lstrip("-").lower()
        if word in _FLOAT_WORDS:
            value = _FLOAT_WORDS[word]
            return -value if text.startswith("-") else value
    elif tok[0] == "number":
        digits = text.lstrip("+-")
        if digits[:2] in ("0x", "0X"):
            return float(int(text, 16))
        return float(text.rstrip("fF"))
    tokens.fail(tok[2], f"field {field!r} takes a number, got {tokens.describe(tok)}")


def _scalar(field, tokens: _Tokens):
    tok = tokens.take()
    kind = field.kind
    if kind in ("string", "bytes"):
        if tok[0] != "string":
            tokens.fail(tok[2], f"field {field.name!r} takes a quoted string, got {tokens.describe(tok)}")
        parts = [_unquote(tok, tokens)]
        while tokens.peek()[0] == "string":
            parts.append(_unquote(tokens.take(), tokens))
        text = "".join(parts)
        return text.encode("latin-1", "replace") if kind == "bytes" else text
    if kind == "bool":
        if tok[1] in _TRUE:
            return True
        if tok[1] in _FALSE:
            return False
        tokens.fail(tok[2], f"field {field.name!r} takes true or false, got {tokens.describe(tok)}")
    if kind in ("float", "double"):
        return _float(tok, tokens, field.name)
    if kind == "enum":
        names = ENUMS[field.target]
        if tok[0] == "ident" and tok[1] in names:
            return tok[1]
        if tok[0] == "number":
            number = _integer(tok, tokens, "int32", field.name)
            return next((k for k, v in names.items() if v == number), number)
        tokens.fail(tok[2], f"field {field.name!r} takes one of {', '.join(names)}, got {tokens.describe(tok)}")
    return _integer(tok, tokens, kind, field.name)


def _skip_value(tokens: _Tokens, depth: int) -> None:
    """Parse and drop the value of a field the schema does not list."""
    tok = tokens.peek()
    if tok[1] in _CLOSE and tok[0] == "punct":
        tokens.take()
        _skip_block(tokens, _CLOSE[tok[1]], depth + 1)
    elif tok[1] == "[" and tok[0] == "punct":
        tokens.take()
        if not tokens.accept("]"):
            while True:
                if tokens.peek()[1] == "[":
                    tokens.fail(tokens.peek()[2], "a list inside a list")
                _skip_value(tokens, depth)
                if tokens.accept("]"):
                    break
                if not tokens.accept(","):
                    t = tokens.peek()
                    tokens.fail(t[2], f"expected ',' or ']' in a list, got {tokens.describe(t)}")
    elif tok[0] in ("number", "ident"):
        tokens.take()
    elif tok[0] == "string":
        while tokens.peek()[0] == "string":
            tokens.take()
    else:
        tokens.fail(tok[2], f"expected a value, got {tokens.describe(tok)}")


def _skip_block(tokens: _Tokens, close: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        tokens.fail(tokens.peek()[2], f"messages are nested more than {MAX_DEPTH} deep")
    while not tokens.accept(close):
        tok = tokens.take()
        if tok[0] != "ident":
            tokens.fail(tok[2], f"expected a field name or {close!r}, got {tokens.describe(tok)}")
        tokens.accept(":")
        _skip_value(tokens, depth)
        tokens.accept(",") or tokens.accept(";")


def _message(tokens: _Tokens, type_name: str, close: str | None, depth: int) -> Message:
    if depth > MAX_DEPTH:
        tokens.fail(tokens.peek()[2], f"messages are nested more than {MAX_DEPTH} deep")
    mtype = MESSAGES[type_name]
    msg = Message(mtype)
    while True:
        tok = tokens.peek()
        if close is None and tok[0] == "end":
            return msg
        if close is not None and tokens.accept(close):
            return msg
        tokens.take()
        if tok[0] != "ident" or tok[1].startswith("-"):
            want = "a field name" + (f" or {close!r}" if close else "")
            tokens.fail(tok[2], f"expected {want}, got {tokens.describe(tok)}")
        name = tok[1]
        field = mtype.by_name.get(name)
        colon = tokens.accept(":")
        if field is None:
            msg.unknown.append(name)
            _skip_value(tokens, depth)
        elif field.kind == "message":
            _message_values(tokens, msg, field, depth)
        else:
            if not colon:
                t = tokens.peek()
                tokens.fail(t[2], f"expected ':' after {name!r}, got {tokens.describe(t)}")
            if tokens.accept("["):
                if not field.repeated:
                    tokens.fail(tok[2], f"field {name!r} of {type_name} is not repeated but is given a list")
                if not tokens.accept("]"):
                    while True:
                        msg.add(name, _scalar(field, tokens))
                        if tokens.accept("]"):
                            break
                        if not tokens.accept(","):
                            t = tokens.peek()
                            tokens.fail(t[2], f"expected ',' or ']' in the list of {name!r}, got "
                                              f"{tokens.describe(t)}")
            else:
                msg.add(name, _scalar(field, tokens))
        tokens.accept(",") or tokens.accept(";")


def _message_values(tokens: _Tokens, msg: Message, field, depth: int) -> None:
    def one():
        t = tokens.take()
        if t[0] != "punct" or t[1] not in _CLOSE:
            tokens.fail(t[2], f"field {field.name!r} is a message: expected '{{', got {tokens.describe(t)}")
        msg.add(field.name, _message(tokens, field.target, _CLOSE[t[1]], depth + 1))

    if tokens.accept("["):
        if not tokens.accept("]"):
            while True:
                one()
                if tokens.accept("]"):
                    break
                if not tokens.accept(","):
                    t = tokens.peek()
                    tokens.fail(t[2], f"expected ',' or ']' in the list of {field.name!r}, got {tokens.describe(t)}")
    else:
        one()


def parse_text(text: str, type_name: str, where: str) -> Message:
    """The message `type_name` written in protobuf text format; `where` names the file."""
    return _message(_Tokens(text, where), type_name, None, 0)

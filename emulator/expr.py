"""The small expression language of the debugger's commands (gdb's C subset that matters
without debug information): numbers, $registers, $N history, symbols (their addresses),
+ - * / %, unary - * &, parentheses and pointer casts such as *(int *)ADDR."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from emulator.inferior import Inferior

_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)|(\$[A-Za-z_0-9]*)|([A-Za-z_.][\w.@]*)"
                    r"|(\(|\)|\+|-|\*|/|%|&|\{|\}))")

TYPE_SIZES = {"char": 1, "signed char": 1, "unsigned char": 1, "short": 2, "unsigned short": 2,
              "int": 4, "unsigned int": 4, "unsigned": 4, "long long": 8,
              "unsigned long long": 8, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2,
              "int32_t": 4, "uint32_t": 4, "int64_t": 8, "uint64_t": 8}
WORD_TYPES = {"long", "unsigned long", "void", "size_t", "uintptr_t"}


def type_size(words: str, word: int) -> Optional[int]:
    """Bytes of a C scalar type name, or None."""
    t = " ".join(words.split())
    if t in TYPE_SIZES:
        return TYPE_SIZES[t]
    if t in WORD_TYPES:
        return word
    return None


class ExprError(Exception):
    pass


def tokenize(text: str) -> List[Tuple[str, str]]:
    pos = 0
    out: List[Tuple[str, str]] = []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExprError(f"A syntax error in expression, near `{text[pos:].strip()}'.")
        num, reg, name, op = m.groups()
        if num is not None:
            out.append(("num", num))
        elif reg is not None:
            out.append(("reg", reg[1:]))
        elif name is not None:
            out.append(("name", name))
        else:
            out.append(("op", op))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: List[Tuple[str, str]], inferior: "Inferior",
                 history: Sequence[int]) -> None:
        self.toks = tokens
        self.i = 0
        self.inf = inferior
        self.history = history

    def peek(self) -> Optional[Tuple[str, str]]:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExprError("A syntax error in expression, near `'.")
        self.i += 1
        return tok

    def is_op(self, op: str) -> bool:
        tok = self.peek()
        return tok is not None and tok == ("op", op)

    def parse(self) -> int:
        value = self.sum()
        if self.peek() is not None:
            rest = " ".join(t[1] for t in self.toks[self.i:])
            raise ExprError(f"A syntax error in expression, near `{rest}'.")
        return value

    def sum(self) -> int:
        value = self.product()
        while self.is_op("+") or self.is_op("-"):
            op = self.take()[1]
            rhs = self.product()
            value = value + rhs if op == "+" else value - rhs
        return value

    def product(self) -> int:
        value = self.unary()
        while self.is_op("*") or self.is_op("/") or self.is_op("%"):
            op = self.take()[1]
            rhs = self.unary()
            if op == "*":
                value *= rhs
            elif rhs == 0:
                raise ExprError("Division by zero")
            elif op == "/":
                value = int(value / rhs)
            else:
                value %= rhs
        return value

    def _cast(self) -> Optional[Tuple[int, bool]]:
        """`(TYPE)` or `(TYPE *)` at the cursor: (pointee size or type size, is pointer)."""
        j = self.i + 1
        words = []
        while j < len(self.toks) and self.toks[j][0] == "name":
            words.append(self.toks[j][1])
            j += 1
        if not words:
            return None
        stars = 0
        while j < len(self.toks) and self.toks[j] == ("op", "*"):
            stars += 1
            j += 1
        if j >= len(self.toks) or self.toks[j] != ("op", ")"):
            return None
        size = type_size(" ".join(words), self.inf.word)
        if size is None:
            if len(words) > 1 or stars:
                raise ExprError(f"No symbol \"{words[-1]}\" in current context.")
            return None
        self.i = j + 1
        return (self.inf.word if stars > 1 else size), stars > 0

    def unary(self) -> int:
        if self.is_op("-"):
            self.take()
            return -self.unary()
        if self.is_op("&"):
            self.take()
            return self.unary()           # a symbol already stands for its address
        if self.is_op("*"):
            self.take()
            size = self.inf.word
            if self.is_op("("):
                cast = self._cast()
                if cast is not None:
                    size = cast[0] if cast[1] else self.inf.word
            addr = self.unary()
            return self.inf.read_word(addr, size)
        if self.is_op("{"):
            # gdb's {TYPE} ADDR: the object of TYPE at ADDR.
            self.take()
            words = []
            while self.peek() is not None and self.peek()[0] == "name":   # type: ignore[index]
                words.append(self.take()[1])
            if not self.is_op("}"):
                raise ExprError("A syntax error in expression, near `{'.")
            self.take()
            obj = type_size(" ".join(words), self.inf.word)
            if obj is None:
                raise ExprError(f"No symbol \"{' '.join(words)}\" in current context.")
            return self.inf.read_word(self.unary(), obj)
        if self.is_op("("):
            cast = self._cast()
            if cast is not None:
                value = self.unary()
                if not cast[1]:
                    value &= (1 << (8 * cast[0])) - 1
                return value
            self.take()
            value = self.sum()
            if not self.is_op(")"):
                raise ExprError("A syntax error in expression, near `'.")
            self.take()
            return value
        return self.atom()

    def atom(self) -> int:
        kind, text = self.take()
        if kind == "num":
            if text.lower().startswith("0x"):
                return int(text, 16)
            if len(text) > 1 and text.startswith("0"):
                return int(text, 8)
            return int(text)
        if kind == "reg":
            if text == "":
                if not self.history:
                    raise ExprError("History is empty.")
                return self.history[-1]
            if text.isdigit():
                n = int(text)
                if not 1 <= n <= len(self.history):
                    raise ExprError(f"History has not yet reached ${n}.")
                return self.history[n - 1]
            from emulator.registers import RegisterError
            try:
                return self.inf.reg(text)
            except RegisterError:
                raise ExprError(f"Invalid register `{text}'") from None
        if kind == "name":
            assert self.inf.symbols is not None
            addr = self.inf.symbols.address(text)
            if addr is None:
                raise ExprError(f"No symbol \"{text}\" in current context.")
            return addr
        raise ExprError(f"A syntax error in expression, near `{text}'.")


def evaluate(text: str, inferior: "Inferior", history: Sequence[int] = ()) -> int:
    """The value of an expression; DebugError with gdb's wording when it has none."""
    from emulator.inferior import DebugError
    if not text.strip():
        raise DebugError("Argument required (expression to compute).")
    try:
        return _Parser(tokenize(text), inferior, history).parse()
    except ExprError as exc:
        raise DebugError(str(exc)) from None

"""A constant java.util.regex pattern (Flink's dialect) as RE2 (DuckDB's) reads it the same
way, or a refusal by name of what RE2 cannot do.

RE2 spells some of Java's syntax otherwise: a named group ``(?<name>``, a ``\\uXXXX`` or
``\\0ooo`` character, ``\\h`` (a horizontal blank), the POSIX classes ``\\p{Alpha}`` (ASCII
in Java). Lookarounds, back references, atomic groups, possessive quantifiers, classes in
classes (Java's unions and intersections; ``[[:upper:]]`` is one in Java, not RE2's POSIX
class) and the comments flag it has not at all: a pattern using them is refused when
planning, where DuckDB would fail the job at its first row or answer otherwise.

>>> re2(r"(?<word>\\w)\\u0062\\0141\\p{Alpha}")
'(?P<word>\\\\w)\\\\x{0062}\\\\x{61}[a-zA-Z]'
>>> re2("[(?=]x")
'[(?=]x'
"""

from __future__ import annotations

import re

from planner.errors import UnsupportedError

_HORIZONTAL = r"[\t \x{A0}\x{1680}\x{180E}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"
_LACKING = {
    "(?=": "a lookahead (?=...)",
    "(?!": "a negative lookahead (?!...)",
    "(?<=": "a lookbehind (?<=...)",
    "(?<!": "a negative lookbehind (?<!...)",
    "(?>": "an atomic group (?>...)",
}
# Java's POSIX classes (US-ASCII only), as the inside of an RE2 class
_POSIX = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7F", "Alpha": "a-zA-Z", "Digit": "0-9",
    "Alnum": "a-zA-Z0-9", "Punct": "!-/:-@\\[-`{-~", "Graph": "!-~", "Print": " -~", "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F", "XDigit": "0-9a-fA-F", "Space": " \\t\\n\\x0B\\f\\r",
}  # fmt: skip
_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?[:)]")
_OCTAL = re.compile(r"0([0-3][0-7]{2}|[0-7]{1,2})")


_REPETITION = re.compile(r"\{\d+(?:,\d*)?\}")


def bad_repetition(pattern: str) -> bool:
    """Whether ``pattern`` has a '{' that starts no repetition ({2}, {2,}, {2,3}) outside a
    class: java.util.regex cannot compile it (Illegal repetition), RE2 reads it as text.

    >>> bad_repetition("a{"), bad_repetition("a{,2}"), bad_repetition("a{2,}[{]\\{")
    (True, True, False)
    """
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":  # an escape: \p{L} and \x{263A} take their braces along
            braces = pattern[i + 1 : i + 3] in ("p{", "P{", "x{") and "}" in pattern[i:]
            i = pattern.index("}", i) + 1 if braces else i + 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "{" and not _REPETITION.match(pattern, i):
            return True
        i += 1
    return False


def _refuse(what: str) -> UnsupportedError:
    return UnsupportedError(f"{what} in a regular expression is not supported (DuckDB's RE2 has none)")


def re2(pattern: str) -> str:
    """``pattern`` (Java's syntax) in RE2's syntax; raises for what RE2 lacks."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            d, rest = pattern[i + 1], pattern[i + 2 :]
            if d == "Q":  # quoted text, up to \E: copied as it is (RE2 has \Q...\E too)
                end = pattern.find("\\E", i)
                stop = len(pattern) if end < 0 else end + 2
                out.append(pattern[i:stop])
                i = stop
                continue
            if d == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", rest[:4]):
                out.append(f"\\x{{{rest[:4]}}}")
                i += 6
                continue
            octal = _OCTAL.match(pattern, i + 1) if d == "0" else None
            if octal is not None:
                out.append(f"\\x{{{int(octal.group(1), 8):X}}}")
                i = octal.end()
                continue
            posix = re.match(r"\{(\w+)\}", rest) if d in "pP" else None
            if posix is not None and posix.group(1) in _POSIX:
                body = _POSIX[posix.group(1)]
                if in_class and d == "P":
                    raise _refuse(f"a negated class \\P{posix.group(0)} inside a class")
                out.append(body if in_class else f"[{'^' if d == 'P' else ''}{body}]")
                i += 2 + posix.end()
                continue
            if d in "pPxk" and rest.startswith("{") and "}" in rest:  # \p{L}, \x{263A}: one escape
                end = i + 2 + rest.index("}") + 1
                out.append(pattern[i:end])
                i = end
                continue
            if d == "h" and not in_class:
                out.append(_HORIZONTAL)
                i += 2
                continue
            if d in "123456789" and not in_class:
                raise _refuse(f"a back reference \\{d}")
            out.append(c + d)
            i += 2
            continue
        if in_class:
            if c == "[" or pattern.startswith("&&", i):  # Java's unions and intersections
                raise _refuse("a class inside a class ([a[b]], [a&&[b]])")
            in_class = c != "]"
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            if pattern.startswith("[^]", i) or pattern.startswith("[]", i):  # a ']' first is text
                out.append(pattern[i + 1 : pattern.index("]", i) + 1])
                i = pattern.index("]", i) + 1
                continue
            i += 1
            continue
        if c == "(":
            for prefix, what in _LACKING.items():
                if pattern.startswith(prefix, i):
                    raise _refuse(what)
            if pattern.startswith("(?<", i):
                out.append("(?P<")
                i += 3
                continue
            flags = _FLAGS.match(pattern, i)
            if flags is not None and set("".join(f or "" for f in flags.groups())) - set("ims"):
                raise _refuse(f"the inline flag {flags.group(0)}")
        if c in "*+?}" and pattern.startswith("+", i + 1) and not (c == "?" and out[-1:] == ["("]):
            raise _refuse(f"a possessive quantifier {c}+")
        out.append(c)
        i += 1
    return "".join(out)


_ZERO_MINIMUM = re.compile(r"[?*]|\{0*(?:,\d*)?\}|\{0+,?\d*\}")


def optional_groups(pattern: str) -> set[int] | None:
    """The capturing groups of ``pattern`` (an RE2 pattern, as :func:`re2` writes it) that
    may take no part in a match: those inside an alternative (``|`` in a group around
    them, or at the top) or under a quantifier that allows none (``?``, ``*``, ``{0,n}``).
    Every other group takes part whenever the pattern matches, so its '' is a match of ''.
    None when the pattern has something this reading does not follow (``\\Q``).

    >>> optional_groups("channel_id=([^&]*)"), optional_groups("(x)?([a-z])(b)")
    (set(), {1})
    >>> sorted(optional_groups("((a)|b)(c(d))*")), sorted(optional_groups("a|(b)"))
    ([2, 3, 4], [1])
    """
    if "\\Q" in pattern:
        return None
    # each open group: its index (None: not capturing), whether '|' is directly in it, and
    # the capturing groups inside it (itself included); the first is the whole pattern
    stack: list[tuple[int | None, list[bool], list[int]]] = [(None, [False], [])]
    count, i = 0, 0
    optional: set[int] = set()
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
        elif c == "[":
            end = _class_close(pattern, i)
            if end is None:
                return None
            i = end + 1
        elif c == "(":
            flags = re.match(r"\(\?[a-zA-Z-]*\)", pattern[i:])
            if flags:  # (?i): flags, no group
                i += flags.end()
                continue
            capturing = not pattern.startswith("(?", i) or pattern.startswith(("(?P<", "(?<"), i)
            count += capturing
            index = count if capturing else None
            stack.append((index, [False], [index] if index is not None else []))
            i += 1
        elif c == "|":
            stack[-1][1][0] = True
            i += 1
        elif c == ")":
            if len(stack) == 1:
                return None
            index, alternated, inside = stack.pop()
            if alternated[0]:  # the groups in its alternatives, not itself, may be skipped
                optional.update(g for g in inside if g != index)
            if _ZERO_MINIMUM.match(pattern, i + 1):
                optional.update(inside)
            stack[-1][2].extend(inside)
            i += 1
        else:
            i += 1
    if len(stack) != 1:
        return None
    if stack[0][1][0]:  # '|' at the top
        optional.update(stack[0][2])
    return optional


def _class_close(pattern: str, start: int) -> int | None:
    """Where the class opened at ``start`` closes (a ']' first in it is text); None for a
    class inside a class."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "[":
            return None
        if pattern[i] == "]":
            return i
        i += 1
    return None

"""Time ranges and set references in a question: "after the first minute", "between 0:30 and 1:10".

Why rules: the phrasings people use for a span of their own workout are few and regular, a
wrong range silently changes a count, and a parser that can be read and tested phrase by
phrase beats a model's guess here. What cannot be resolved without the video (the last 20
seconds, the second half, the third set) is returned as a reference that the planner resolves
once it knows the duration or the sets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "half a": 0.5, "a half": 0.5,
}  # fmt: skip
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "last": -1, "final": -1}
_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60, "minute": 60,
          "minutes": 60}

_NUM = r"(?:\d+(?:\.\d+)?|" + "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True)) + ")"
_UNIT_WORD = r"(?:seconds?|secs?|minutes?|mins?|s|m)"
_UNIT = _UNIT_WORD + r"\b"
# A time: "1:15", "75 s", "two minutes", "1.5 min", "a minute", or a bare number after a time word.
_TIME = rf"(?:\d+:\d{{2}}(?:\.\d+)?|{_NUM}\s*{_UNIT}|(?:a|one)?\s*(?:minute|second)\b)"


@dataclass(frozen=True)
class TimeSlots:
    """What a question says about *when*. Absolute times in seconds; relative ones resolved later.

    `from_end_s`: "the last 20 seconds" (start = duration − 20). `half`: 1 or 2 ("second half").
    `set_index`: 1-based set the question is about ("second set" → 2; "last set" → −1).
    """

    start_s: float | None = None
    end_s: float | None = None
    from_end_s: float | None = None
    half: int | None = None
    set_index: int | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.start_s, self.end_s, self.from_end_s, self.half, self.set_index))

    def resolve(self, duration_s: float) -> tuple[float | None, float | None]:
        """(start_s, end_s) on the video's clock, once its duration is known (sets excluded)."""
        start, end = self.start_s, self.end_s
        if self.from_end_s is not None:
            start = max(0.0, duration_s - self.from_end_s)
        if self.half == 1:
            end = duration_s / 2
        elif self.half == 2:
            start = duration_s / 2
        return start, end


def parse_time(text: str) -> float:
    """Seconds of one time expression ("1:15" → 75, "two minutes" → 120, "a minute" → 60)."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+:\d{2}(?:\.\d+)?", text):
        minutes, secs = text.split(":")
        return int(minutes) * 60 + float(secs)
    match = re.fullmatch(rf"({_NUM})?\s*({_UNIT_WORD})", text)
    if match is None:
        raise ValueError(f"not a time: {text!r}")
    return _amount(match.group(1)) * _UNITS[match.group(2)]


def _amount(number: str | None) -> float:
    """ "two" → 2, "1.5" → 1.5, None (as in "a minute" read as "minute") → 1."""
    if not number or not number.strip():
        return 1.0
    number = number.strip()
    return float(_NUMBER_WORDS[number]) if number in _NUMBER_WORDS else float(number)


def _first_n(match: re.Match) -> float:
    """ "first minute" → 60, "first 30 seconds" → 30, "first two minutes" → 120."""
    return _amount(match.group("n")) * _UNITS[match.group("u")]


_FIRST_N = rf"(?P<n>{_NUM})?\s*(?P<u>{_UNIT_WORD})\b"


def parse_time_slots(question: str) -> TimeSlots:
    """The time range or set a question refers to (all None when it names none)."""
    q = " " + question.lower().replace("’", "'") + " "
    set_index = _set_index(q)
    half = 1 if re.search(r"\bfirst half\b", q) else 2 if re.search(r"\b(second|last|latter) half\b", q) else None

    between = re.search(rf"\b(?:between|from)\s+(?P<a>{_TIME}|\d+(?:\.\d+)?)\s*(?:and|to|until|till|-|–)\s*"
                        rf"(?P<b>{_TIME}|\d+(?:\.\d+)?)", q)
    if between:
        b_text = between.group("b")
        a_text = between.group("a")
        unit = re.search(_UNIT, b_text)
        if unit and not re.search(r"[a-z:]", a_text):  # "between 30 and 60 seconds"
            a_text = a_text + " " + unit.group(0)
        return TimeSlots(start_s=_time_or_seconds(a_text), end_s=_time_or_seconds(b_text), half=half,
                         set_index=set_index)
    start = end = from_end = None
    if m := re.search(rf"\b(?:after|past|beyond)\s+the\s+first\s+{_FIRST_N}", q):
        start = _first_n(m)
    elif m := re.search(rf"\b(?:in|during|within|over|for)?\s*the\s+first\s+{_FIRST_N}", q):
        end = _first_n(m)
    elif m := re.search(rf"\b(?:in|during|within|over|for)?\s*the\s+(?:last|final)\s+{_FIRST_N}", q):
        from_end = _first_n(m)
    if start is None and end is None and from_end is None:
        if m := re.search(rf"\b(?:after|since|from|starting at|beyond|past)\s+(?P<t>{_TIME})", q):
            start = _time_or_seconds(m.group("t"))
        if m := re.search(rf"\b(?:before|until|till|up to|by)\s+(?P<t>{_TIME})", q):
            end = _time_or_seconds(m.group("t"))
    return TimeSlots(start_s=start, end_s=end, from_end_s=from_end, half=half, set_index=set_index)


def _time_or_seconds(text: str) -> float:
    text = text.strip()
    return float(text) if re.fullmatch(r"\d+(?:\.\d+)?", text) else parse_time(text)


def _set_index(q: str) -> int | None:
    if m := re.search(r"\b(" + "|".join(_ORDINALS) + r")\s+(?:set|round)\b", q):
        return _ORDINALS[m.group(1)]
    if m := re.search(r"\b(?:set|round)\s+(?:number\s+)?(\d+)\b", q):
        return int(m.group(1))
    return None

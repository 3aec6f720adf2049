"""Per-cycle count annotations in the RepCountA CSV layout: read, check, write, convert.

The layout is one row per video, `type,name,count[,fps],L1,L2,...`, where consecutive pairs of
L cells are the start and end FRAME of each cycle and the cells after the last cycle are blank.
RepCountA's own files also carry a leading unnamed index column; it is accepted and ignored.
Other datasets (UCFRep, Countix, QUVA) are converted into this layout with `write_annotations`,
so everything downstream reads one format.

A bad row is not a reason to drop a benchmark: `load_annotations` returns every row it could
read plus one `RowError` per row it could not, and the caller decides whether to go on.
A file that cannot be read at all (missing, empty, no `name`/`count` column) raises
`InputError`, naming the header it expected.

A row's `count` is kept as written even when it disagrees with the number of L pairs (RepCountA
has such rows): the count column is what the benchmark scores, the pairs are what
localization scores. `Annotation.cycles_agree` says whether the two agree.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from countllm.errors import InputError
from countllm.types import Segment

EXPECTED_HEADER = "type,name,count[,fps],L1,L2,... (an unnamed leading index column is allowed)"
_L_COLUMN = re.compile(r"^[Ll](\d+)$")


@dataclass
class Annotation:
    """One annotated video: its true count and, where given, the frames of each cycle."""

    name: str  # the video file name, e.g. "train951.mp4"; the key predictions are matched on
    action_type: str  # as written in the file (RepCountA spells some classes two ways)
    count: int
    fps: float | None = None  # the rate the frame numbers refer to, when the file says
    cycle_frames: list[tuple[float, float]] = field(default_factory=list)  # [(start, end)] frames
    row_number: int = 0  # line in the source file (header is line 1); 0 when built in code

    @property
    def cycles_agree(self) -> bool:
        """Whether the count column equals the number of annotated cycles."""
        return self.count == len(self.cycle_frames)


@dataclass(frozen=True)
class RowError:
    """A row that could not be read, and why; the other rows of the file are still used."""

    row_number: int  # line in the file, header is line 1
    name: str  # the row's name cell, "" when blank
    message: str

    def __str__(self) -> str:
        return f"line {self.row_number} ({self.name or 'no name'}): {self.message}"


@dataclass(frozen=True)
class _Columns:
    """Where each field sits in a row, found from the header."""

    name: int
    count: int
    action_type: int | None
    fps: int | None
    cycles: list[int]  # indices of L1, L2, ... in order


def load_annotations(path: str | Path) -> tuple[list[Annotation], list[RowError]]:
    """Read an annotation CSV; return the rows that parsed and one RowError per row that did not.

    Raises:
        InputError: the file is missing, unreadable, empty, or its header lacks `name`/`count`.
    """
    rows = _read_rows(Path(path))
    if not rows:
        raise InputError(str(path), f"file is empty; expected a header {EXPECTED_HEADER}")
    columns = _find_columns(rows[0][1], str(path))
    annotations: list[Annotation] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    for line, cells in rows[1:]:
        if all(not c.strip() for c in cells):
            continue  # padding lines carry no data
        try:
            ann = _parse_row(cells, columns, line)
            if ann.name in seen:
                raise ValueError(f"duplicate name {ann.name!r}: an earlier row already has it")
        except ValueError as err:
            errors.append(RowError(line, _cell(cells, columns.name), str(err)))
            continue
        seen.add(ann.name)
        annotations.append(ann)
    return annotations, errors


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """All CSV records with the line they end on, or InputError if the file cannot be read."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            return [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise InputError(str(path), f"no such file; expected a CSV with header {EXPECTED_HEADER}") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(str(path), f"cannot read as a UTF-8 CSV ({err})") from None


def _find_columns(header: list[str], source: str) -> _Columns:
    """Locate the named columns; the header decides, not the position."""
    names = [h.strip() for h in header]
    lowered = [n.lower() for n in names]
    for key in ("type", "name", "count", "fps"):
        if lowered.count(key) > 1:
            raise InputError(source, f"column {key!r} appears twice; expected {EXPECTED_HEADER}")
    missing = [key for key in ("name", "count") if key not in lowered]
    if missing:
        raise InputError(
            source, f"header has no {' or '.join(missing)} column; expected {EXPECTED_HEADER}"
        )
    matches = [(_L_COLUMN.match(n), i) for i, n in enumerate(names)]
    numbered = sorted((int(m.group(1)), i) for m, i in matches if m)
    if [k for k, _ in numbered] != list(range(1, len(numbered) + 1)):
        raise InputError(
            source, f"L columns must run L1, L2, ... without gaps; expected {EXPECTED_HEADER}"
        )
    return _Columns(
        name=lowered.index("name"),
        count=lowered.index("count"),
        action_type=lowered.index("type") if "type" in lowered else None,
        fps=lowered.index("fps") if "fps" in lowered else None,
        cycles=[i for _, i in numbered],
    )


def _cell(cells: list[str], index: int | None) -> str:
    """The stripped cell at `index`, "" when the column is absent or the row is short."""
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _parse_row(cells: list[str], cols: _Columns, line: int) -> Annotation:
    """One data row → Annotation; ValueError with a plain reason if any cell is unusable."""
    name = _cell(cells, cols.name)
    if not name:
        raise ValueError("name is blank")
    fps_text = _cell(cells, cols.fps)
    fps = _number(fps_text, "fps") if fps_text else None
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps_text!r}")
    return Annotation(
        name=name,
        action_type=_cell(cells, cols.action_type),
        count=_parse_count(_cell(cells, cols.count)),
        fps=fps,
        cycle_frames=_parse_cycles([_cell(cells, i) for i in cols.cycles]),
        row_number=line,
    )


def _number(text: str, what: str) -> float:
    """A finite float from a cell, or ValueError naming the cell."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not finite")
    return value


def _parse_count(text: str) -> int:
    """A non-negative whole count; "4.0" is accepted since spreadsheet tools write ints so."""
    if not text:
        raise ValueError("count is blank")
    value = _number(text, "count")
    if value != int(value):
        raise ValueError(f"count {text!r} is not a whole number")
    if value < 0:
        raise ValueError(f"count {text!r} is negative")
    return int(value)


def _parse_cycles(texts: list[str]) -> list[tuple[float, float]]:
    """L cells → [(start, end)] frames; blanks may only trail, and they must pair up."""
    while texts and not texts[-1]:
        texts = texts[:-1]
    if "" in texts:
        raise ValueError(f"blank L{texts.index('') + 1} before the last cycle value")
    if len(texts) % 2:
        raise ValueError(
            f"odd number of L values ({len(texts)}): each cycle needs a start and an end"
        )
    frames = [_number(t, f"L{i + 1}") for i, t in enumerate(texts)]
    if any(f < 0 for f in frames):
        raise ValueError("negative frame number in L values")
    cycles = list(zip(frames[0::2], frames[1::2]))
    for k, (start, end) in enumerate(cycles):
        if end < start:
            raise ValueError(
                f"cycle {k + 1} ends (frame {end:g}) before it starts (frame {start:g})"
            )
    return cycles


def write_annotations(path: str | Path, annotations: Sequence[Annotation]) -> None:
    """Write annotations as a RepCountA-style CSV that `load_annotations` reads back unchanged.

    The leading index column is kept so RepCountA tools read the file too; an `fps` column is
    written only when some annotation has an fps, and there are as many L columns as the
    longest row needs.
    """
    with_fps = any(a.fps is not None for a in annotations)
    n_values = 2 * max((len(a.cycle_frames) for a in annotations), default=0)
    header = ["", "type", "name", "count"] + (["fps"] if with_fps else [])
    header += [f"L{i + 1}" for i in range(n_values)]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for index, ann in enumerate(annotations):
            writer.writerow(_row_cells(index, ann, with_fps, n_values))


def _row_cells(index: int, ann: Annotation, with_fps: bool, n_values: int) -> list[str]:
    """The cells of one written row, padded with blanks to the header's width."""
    cells = [str(index), ann.action_type, ann.name, str(ann.count)]
    if with_fps:
        cells.append("" if ann.fps is None else _format_number(ann.fps))
    values = [_format_number(v) for pair in ann.cycle_frames for v in pair]
    return cells + values + [""] * (n_values - len(values))


def _format_number(value: float) -> str:
    """Whole numbers without ".0" (as RepCountA writes frames); others exactly (repr)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def cycles_seconds(ann: Annotation, fps: float | None = None) -> list[Segment]:
    """The annotated cycles as Segments in seconds, to compare with a counter's `cycles`.

    The annotation's own fps wins when it has one, because it states the rate its frame
    numbers were written at; `fps` (typically the video's native rate) is the fallback.

    Raises:
        InputError: neither the annotation nor the caller gives a positive fps.
    """
    rate = ann.fps if ann.fps is not None else fps
    if rate is None or rate <= 0:
        raise InputError(
            ann.name,
            f"no positive fps to turn frames into seconds (got {rate!r}); "
            "add an fps column or pass the video's frame rate",
        )
    return [Segment(start / rate, end / rate) for start, end in ann.cycle_frames]

"""The results file of `countllm batch`: one JSON line per input, which is also its resume record.

Why the output file is the record (no cache beside it): the JSONL the user asked for is what a
rerun must agree with; a second store could disagree with it after a kill. So:

- a line is appended, in one `write`, the moment an input is done, and the file is locked
  against a second run writing it at the same time: a SIGKILL loses at most the inputs being
  counted, and a torn last line (a kill mid-write) is dropped on the next open;
- each line carries `resume_key` (the input's size, modification time and the method asked for);
  with `input` it says whether the line still describes the file: a rerun skips an `ok` line
  whose key matches, reports a matching `failed` line without retrying it unless asked
  (`countllm.batch.resume`), and counts again a file that changed since;
- a line superseded by this run (a failure being retried, a changed file) is removed before any
  new line is written, by rewriting the file to a temporary name and renaming it over the old
  one (atomic), so the file holds each (input, method) exactly once, whatever was killed when.
  Lines of inputs this run does not name are kept: one results file can grow with a library.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from countllm.batch.resume import ResumePlan, plan_resume
from countllm.errors import InputError

Record = dict[str, Any]


@dataclass(frozen=True)
class InputKey:
    """What a result was computed from: the file (absolute path, size, mtime) and the method asked."""

    input: str
    size_bytes: int
    mtime_ns: int
    method: str

    @classmethod
    def of(cls, path: str, method: str) -> InputKey:
        """The key of `path` as it is now; a file that vanished keys as size and mtime -1."""
        try:
            st = os.stat(path)
        except OSError:
            return cls(path, -1, -1, method)
        return cls(path, st.st_size, st.st_mtime_ns, method)

    @property
    def identity(self) -> tuple[str, str]:
        """Which line of the file it owns: one per (input, method)."""
        return self.input, self.method

    def to_json(self) -> dict[str, Any]:
        return {"size_bytes": self.size_bytes, "mtime_ns": self.mtime_ns, "method": self.method}

    @classmethod
    def from_record(cls, record: Record) -> InputKey:
        key = record["resume_key"]
        return cls(str(record["input"]), int(key["size_bytes"]), int(key["mtime_ns"]), str(key["method"]))


def _parse_lines(path: Path, text: str) -> tuple[list[tuple[str, Record]], bool]:
    """(line text, record) for each line, and whether a torn last line was dropped."""
    lines = text.split("\n")
    torn = False
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:  # no newline at the end: the last write was cut off by a kill
        lines.pop()
        torn = True
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            InputKey.from_record(record)
            if record.get("status") not in ("ok", "failed"):
                raise ValueError("no status")
        except (ValueError, KeyError, TypeError):
            raise InputError(str(path), f"line {number} is not a countllm batch result; name a new --out "
                             "file (an existing one must be the results of an earlier countllm batch)") from None
        parsed.append((line, record))
    return parsed, torn


class ResultsFile:
    """The open, locked results file; see the module docstring. Use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._lines: dict[tuple[str, str], tuple[str, Record]] = {}
        self._needs_rewrite = False

    def __enter__(self) -> ResultsFile:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Lock and read the file (created if missing)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = self._open_locked()
            with open(self._fd, encoding="utf-8", closefd=False) as f:
                text = f.read()
        except OSError as exc:
            self.close()
            raise InputError(str(self.path), f"cannot open the results file ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            self.close()
            raise InputError(str(self.path), "not a countllm batch results file (not UTF-8 text)") from None
        try:
            parsed, torn = _parse_lines(self.path, text)
        except InputError:
            self.close()
            raise
        self._needs_rewrite = torn
        for line, record in parsed:
            identity = InputKey.from_record(record).identity
            self._needs_rewrite |= identity in self._lines  # a duplicate (never written by this module)
            self._lines[identity] = (line, record)

    def _open_locked(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(str(self.path), "another countllm batch is writing this file; wait for it or "
                             "name another --out") from None
        return fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def __len__(self) -> int:
        return len(self._lines)

    def records(self) -> list[Record]:
        """Every record in the file, in file order."""
        return [record for _, record in self._lines.values()]

    def record(self, key: InputKey) -> Record | None:
        """The stored record of `key`'s input and method if it still matches the file, else None."""
        found = self._lines.get(key.identity)
        if found is None or InputKey.from_record(found[1]) != key:
            return None
        return found[1]

    def plan(self, keys: list[InputKey], retry_failures: bool) -> ResumePlan[InputKey, Record, Record]:
        """The project's resume rule (`plan_resume`) over this file's records."""

        def with_status(status: str):
            def lookup(key: InputKey) -> Record | None:
                record = self.record(key)
                return record if record is not None and record["status"] == status else None
            return lookup

        return plan_resume(keys, with_status("ok"), with_status("failed"), retry_failures)

    def drop(self, keys: list[InputKey]) -> int:
        """Remove the lines these keys will replace (a failure retried, a file that changed), before
        any new line is appended; returns how many. Rewrites the file atomically when needed."""
        dropped = 0
        for key in keys:
            if self._lines.pop(key.identity, None) is not None:
                dropped += 1
        if dropped or self._needs_rewrite:
            self._rewrite()
        return dropped

    def _rewrite(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.writelines(line + "\n" for line, _ in self._lines.values())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise InputError(str(self.path), f"cannot rewrite the results file ({exc.strerror or exc})") from None
        old = self._fd
        self._fd = self._open_locked()
        if old is not None:
            os.close(old)
        self._needs_rewrite = False

    def append(self, key: InputKey, record: Record) -> Record:
        """Write one input's line now (one `write`, so a kill leaves it whole or torn, never mixed)."""
        if self._fd is None:
            raise RuntimeError("results file is not open")
        record = {**record, "resume_key": key.to_json()}
        line = json.dumps(record, ensure_ascii=False)
        data = (line + "\n").encode("utf-8")
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # a regular file takes it in one go; a full disk may not
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            raise InputError(str(self.path), f"cannot write the results file ({exc.strerror or exc}); the lines "
                             "already written are kept, rerun to resume") from None
        self._lines[key.identity] = (line, record)
        return record


__all__ = ["InputKey", "Record", "ResultsFile"]

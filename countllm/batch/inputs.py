"""What `countllm batch INPUTS...` means: files, folders and globs, expanded to a list of files.

Why these rules:
- A file named on the command line is taken whatever its suffix: the user chose it, and if it
  cannot be counted that is recorded as its failure, like any other unusable input.
- A folder is searched recursively for videos and pose files only (by suffix), so a library
  folder's thumbnails, subtitles and notes are not reported as hundreds of failures.
- A glob (`*`, `?`, `[`) is expanded by Python (`**` recurses), also when the shell did not,
  e.g. when quoted; a folder it matches is searched like a folder.
- A path that does not exist, or a glob that matches nothing, is a usage error before any work:
  almost always a typo, and a batch that silently skips it would look complete.
- Each file appears once (by absolute path), in the order given; a folder's files are sorted.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from countllm.errors import InputError
from countllm.pose.io import POSE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts")
COUNTABLE_SUFFIXES = VIDEO_SUFFIXES + POSE_SUFFIXES
GLOB_CHARS = ("*", "?", "[")


def absolute(path: str | Path) -> str:
    """The absolute, normalised path string a result is filed under (symlinks kept as named)."""
    return os.path.abspath(os.fspath(path))


def is_glob(text: str) -> bool:
    return any(ch in text for ch in GLOB_CHARS)


def folder_files(folder: Path, suffixes: tuple[str, ...] = COUNTABLE_SUFFIXES) -> list[Path]:
    """The countable files under `folder`, recursively, sorted; hidden files and folders skipped."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in files if not f.startswith(".") and f.lower().endswith(suffixes))
    return sorted(found)


def _expand_one(spec: str) -> list[Path]:
    if is_glob(spec) and not os.path.exists(spec):
        matches = sorted(glob.glob(os.path.expanduser(spec), recursive=True))
        if not matches:
            raise InputError(spec, "the pattern matches no file")
        files: list[Path] = []
        for match in matches:
            path = Path(match)
            files.extend(folder_files(path) if path.is_dir() else [path] if path.is_file() else [])
        return files
    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        return folder_files(path)
    if path.is_file():
        return [path]
    if path.exists():
        raise InputError(spec, "not a regular file or folder")
    raise InputError(spec, "no such file or folder")


def expand_inputs(specs: Iterable[str | Path]) -> list[str]:
    """Absolute paths of every file the specs name, each once, in order (see the module docstring).

    Raises InputError for a missing path, a pattern matching nothing, or no files at all.
    """
    seen: dict[str, None] = {}
    empty_folders = []
    for spec in specs:
        files = _expand_one(os.fspath(spec))
        if not files:
            empty_folders.append(os.fspath(spec))
        for file in files:
            seen.setdefault(absolute(file), None)
    if not seen:
        where = ", ".join(empty_folders) or "the inputs"
        raise InputError(where, f"no video or pose file found (looked for {', '.join(COUNTABLE_SUFFIXES)})")
    return list(seen)


__all__ = ["COUNTABLE_SUFFIXES", "VIDEO_SUFFIXES", "absolute", "expand_inputs", "folder_files", "is_glob"]

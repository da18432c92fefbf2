"""The file reader (northflank_release/files.py): regular files only, bounded, never blocking; the workspace
check follows symlinks. tests/e2e/test_hostile_files.py shows the same through the action's inputs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from northflank_release.files import FileRefused, is_inside, read_regular_file


@pytest.mark.parametrize(
    ("make", "refusal"),
    [
        (lambda path: path.symlink_to("/dev/zero"), "is a character device, not a regular file"),
        (lambda path: os.mkfifo(path), "is a FIFO (named pipe), not a regular file"),
        (lambda path: path.mkdir(), "is a directory, not a regular file"),
        (lambda path: path.write_bytes(b"x" * 1025), "is 1025 bytes long; at most 1024 are read"),
        (lambda path: None, "does not exist"),
    ],
)
def test_each_hostile_file_is_refused_without_reading_it(tmp_path: Path, make: object, refusal: str) -> None:
    path = tmp_path / "file"
    make(path)  # type: ignore[operator]

    with pytest.raises(FileRefused, match=re.escape(refusal)):
        read_regular_file(str(path), 1024)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_proc_file_that_says_it_is_empty_is_still_bounded() -> None:
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(FileRefused, match="more than 10 bytes"):
        read_regular_file("/proc/self/status", 10)


def test_a_symlink_out_of_the_workspace_is_outside(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "inner").write_text("{}", encoding="utf-8")
    (tmp_path / "ws" / "out").symlink_to(tmp_path)

    assert is_inside(str(tmp_path / "ws" / "inner"), str(tmp_path / "ws"))
    assert not is_inside(str(tmp_path / "ws" / "out" / "x"), str(tmp_path / "ws"))
    assert not is_inside(str(tmp_path / "ws-sibling"), str(tmp_path / "ws"))

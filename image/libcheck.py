"""The shared libraries a tree's programs load, as the build stage's `ldd` resolves them, and the ones a
tree lacks. Run in the image's build stage after the final root is assembled:

    python -m image.libcheck /rootfs

It finds every ELF file in the root by its magic bytes (not by the list the assembly used, so a native
extension the assembly overlooked is checked too), asks `ldd` which libraries each loads, and exits 1,
naming each file and library, when a library is absent from the root (or `ldd` cannot find it at all).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class Dependency:
    soname: str
    path: str  # as the build stage's loader resolves it; "" when ldd says "not found"


def elf_files(root: Path) -> Iterator[Path]:
    """Regular files under `root` that start with the ELF magic, symlinks not followed."""
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as handle:
                if handle.read(4) == ELF_MAGIC:
                    yield path


def parse_ldd(text: str) -> list[Dependency]:
    """`ldd` lines: `libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x..)`, `/lib64/ld-linux-x86-64.so.2 (0x..)`,
    `libfoo.so.1 => not found`; the kernel's vDSO (no file) and "statically linked" are no dependency."""
    found: list[Dependency] = []
    for line in text.splitlines():
        line = line.strip()
        if "=>" in line:
            soname, _, rest = line.partition("=>")
            target = rest.strip().split(" (", 1)[0].strip()
            if target == "not found":
                found.append(Dependency(soname.strip(), ""))
            elif target.startswith("/"):
                found.append(Dependency(soname.strip(), target))
        elif line.startswith("/"):
            path = line.split(" (", 1)[0].strip()
            found.append(Dependency(Path(path).name, path))
    return found


def dependencies(program: Path) -> list[Dependency]:
    """What the build stage's loader loads for `program` (a static program or the loader itself: nothing)."""
    result = subprocess.run(["ldd", str(program)], capture_output=True, text=True, check=False)
    return parse_ldd(result.stdout)


def present(root: Path, path: str) -> bool:
    """Whether absolute `path` resolves to a file inside `root`, following the root's own symlinks (a
    usr-merged /lib is a link to usr/lib) rather than the build stage's."""
    current = root
    parts = [part for part in Path(path).parts if part != "/"]
    for _step in range(40):  # a symlink loop must not hang the build
        if not parts:
            return current.is_file()
        head, parts = parts[0], parts[1:]
        candidate = current / head
        if candidate.is_symlink():
            target = os.readlink(candidate)
            base = root if target.startswith("/") else current
            parts = [part for part in Path(target).parts if part != "/"] + parts
            current = base
            continue
        if not candidate.exists():
            return False
        current = candidate
    return False


def missing(root: Path, programs: Iterable[Path]) -> list[str]:
    """One line per library a program in `root` loads that the root lacks."""
    problems: list[str] = []
    for program in sorted(programs):
        shown = "/" + str(program.relative_to(root))
        for dependency in dependencies(program):
            if not dependency.path:
                problems.append(f"{shown}: {dependency.soname} is not found even in the build stage")
            elif not present(root, dependency.path):
                problems.append(f"{shown}: {dependency.soname} ({dependency.path}) is missing from the final image")
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path("/rootfs")
    programs = list(elf_files(root))
    problems = missing(root, programs)
    for line in problems:
        print(f"libcheck: {line}", file=sys.stderr)
    if problems:
        print(
            f"libcheck: {len(problems)} shared libraries missing from {root}; the image would not run", file=sys.stderr
        )
        return 1
    print(f"libcheck: every library of {len(programs)} ELF files in {root} is present")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

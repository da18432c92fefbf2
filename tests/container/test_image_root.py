"""The final image's root as image/rootfs.py assembles it and image/libcheck.py checks it, on this machine's
own interpreter and libraries: the check names each library a program loads that the root lacks. Here, not in
tests/unit, because they run the build stage's own tools (ldd, dpkg-query) as the Dockerfile does; the parts
that run none are in tests/unit/test_image_root.py. No Docker engine needed."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from image import libcheck, rootfs

pytestmark = pytest.mark.skipif(shutil.which("ldd") is None, reason="needs glibc's ldd")


def _extension_of(module: str) -> Path:
    found = __import__(module).__file__
    assert found is not None
    return Path(found)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The interpreter and the ctypes extension (which loads libffi), with the libraries ldd names."""
    tree = tmp_path / "root"
    rootfs.copy_file(os.path.realpath(sys.executable), tree)
    rootfs.copy_file(_extension_of("_ctypes"), tree)
    rootfs.copy_libraries(tree)
    return tree


def test_an_assembled_root_has_every_library_its_programs_load(root: Path) -> None:
    programs = list(libcheck.elf_files(root))

    assert len(programs) >= 3  # the interpreter, the extension, and at least libc
    assert libcheck.missing(root, programs) == []
    assert libcheck.main([str(root)]) == 0


def test_a_library_left_out_is_named_with_the_program_that_loads_it(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ffi = next(dep for dep in libcheck.dependencies(_extension_of("_ctypes")) if dep.soname.startswith("libffi"))
    real = rootfs.place(ffi.path, root)
    (root / real.relative_to("/")).unlink()

    problems = libcheck.missing(root, libcheck.elf_files(root))

    assert problems == [
        f"/{_extension_of('_ctypes').relative_to('/')}: {ffi.soname} ({ffi.path}) is missing from the final image"
    ]
    assert libcheck.main([str(root)]) == 1
    assert "1 shared libraries missing" in capsys.readouterr().err


def test_symlinks_on_the_way_are_kept_as_links(tmp_path: Path) -> None:
    """A usr-merged /lib (a link to usr/lib) stays a link, so paths the loader was built with still lead there."""
    ffi = next(dep for dep in libcheck.dependencies(_extension_of("_ctypes")) if dep.soname.startswith("libffi"))
    tree = tmp_path / "root"
    rootfs.copy_file(ffi.path, tree)

    assert libcheck.present(tree, ffi.path)
    first = Path(ffi.path).parts[1]
    assert (tree / first).is_symlink() == Path("/", first).is_symlink()


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs Debian's dpkg")
def test_the_debian_packages_of_the_copied_libraries_are_described_for_scanners(root: Path) -> None:
    packages = rootfs.record_packages(root)

    assert "libc6" in packages  # libc.so.6, which every program here loads
    stanza = (root / "var" / "lib" / "dpkg" / "status.d" / "libc6").read_text(encoding="utf-8")
    assert stanza.startswith("Package: libc6\n")
    assert "\nVersion: " in stanza

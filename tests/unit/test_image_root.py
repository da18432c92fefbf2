"""The image root's pure parts (image/libcheck.py, image/rootfs.py): reading ldd's lines and completing links.
What runs ldd and dpkg-query on this machine is in tests/container/test_image_root.py."""

from __future__ import annotations

from pathlib import Path

from image import libcheck, rootfs


def test_ldd_lines_are_read_as_the_loader_resolved_them() -> None:
    text = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibffi.so.8 => /lib/x86_64-linux-gnu/libffi.so.8 (0x00007f6e)\n"
        "\tlibgone.so.1 => not found\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f6e)\n"
        "\tstatically linked\n"
    )
    assert libcheck.parse_ldd(text) == [
        libcheck.Dependency("libffi.so.8", "/lib/x86_64-linux-gnu/libffi.so.8"),
        libcheck.Dependency("libgone.so.1", ""),
        libcheck.Dependency("ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"),
    ]


def test_a_link_to_a_file_outside_the_copied_folders_brings_the_file(tmp_path: Path) -> None:
    """Debian's sitecustomize.py is a link into /etc: the file comes along, so no link dangles."""
    outside = tmp_path / "etc" / "python3" / "sitecustomize.py"
    outside.parent.mkdir(parents=True)
    outside.write_text("# site settings\n", encoding="utf-8")
    tree = tmp_path / "root"
    (tree / "usr" / "lib").mkdir(parents=True)
    (tree / "usr" / "lib" / "sitecustomize.py").symlink_to(outside)

    rootfs.complete_links(tree)

    assert libcheck.present(tree, str(outside))
    assert (tree / outside.relative_to("/")).read_text(encoding="utf-8") == "# site settings\n"

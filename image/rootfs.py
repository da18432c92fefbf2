"""Assemble the final image's root in the build stage, for a `FROM scratch` stage to copy whole:

    python -m image.rootfs /rootfs

What goes in: the interpreter on PATH as `python` and its standard library (without tests, ensurepip,
IDLE and tkinter), the installed requirements, the action, the shared libraries `ldd` says these load
(never a hand-kept list), a static busybox with only the applets the Kubernetes runner hook runs, and the
few /etc files glibc and a login shell read. Every path keeps its build-stage place, symlinks included
(a usr-merged /lib stays a link to usr/lib), so the loader and the interpreter find what they expect.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterable
from pathlib import Path

from image.libcheck import dependencies, elf_files, present

# The applets actions/runner-container-hooks' k8s hook runs in a container step's pod (packages/k8s/src at
# cf62bcc): the pod's command `tail -f /dev/null` (createContainerSpec in hooks/run-container-step.ts);
# execCpToPod's `sh -c 'tar xf - --no-same-owner -C /__w; find ... -exec chmod ...'` and its check,
# listDirAllCommand's `cd ... && find . -type f ... -exec stat -c '%s %n' {} \;` (k8s/index.ts, k8s/utils.ts);
# execPodStep's `sh -e <script>`, where writeContainerStepScript's `#!/bin/sh -l` script runs `rm "$0"`,
# `mv` of the /__w folders, `cd` (a builtin) and `exec env "K=V" ... <entrypoint>` (k8s/utils.ts).
BUSYBOX_APPLETS = ("sh", "tail", "tar", "find", "chmod", "stat", "rm", "mv", "env")
BUSYBOX_LICENSE = "/usr/share/doc/busybox-static/copyright"

# Parts of the standard library no run can use: the test suite, pip's bootstrap, IDLE, Tk, and the
# files for building C extensions (config-3.x-*/, with the static libpython).
STDLIB_LEFT_OUT = frozenset(
    {"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "dist-packages"}
)
STDLIB_LEFT_OUT_FILES = ("turtle.py", "_tkinter")

ETC_FILES = {
    # Root by name, for anything that looks the user up (the runner runs container actions as root).
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    # Without this file glibc asks DNS first and never reads /etc/hosts when DNS says "no such name".
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
}


def place(path: str | Path, root: Path) -> Path:
    """Recreate under `root` each symlink met on the way to absolute `path`; the real path it leads to."""
    parts = list(Path(path).parts[1:])
    current = Path("/")
    for _step in range(256):  # a symlink loop must not hang the build
        if not parts:
            return current
        source = current / parts.pop(0)
        if source.is_symlink():
            target = os.readlink(source)
            mirror = root / source.relative_to("/")
            if not os.path.lexists(mirror):
                mirror.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(target, mirror)
            resolved = Path(os.path.normpath(source.parent / target))
            parts = list(resolved.parts[1:]) + parts
            current = Path("/")
        else:
            current = source
    raise RuntimeError(f"too many symlinks on the way to {path}")


def copy_file(path: str | Path, root: Path) -> Path:
    real = place(path, root)
    destination = root / real.relative_to("/")
    if not destination.exists():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(real, destination)
    return destination


def copy_tree(path: str | Path, root: Path, ignore: Callable[[str, list[str]], set[str]] | None = None) -> None:
    real = place(path, root)
    shutil.copytree(
        real, root / real.relative_to("/"), symlinks=True, ignore=ignore or _no_bytecode, dirs_exist_ok=True
    )


def complete_links(root: Path) -> None:
    """The files that links copied into the root point to outside it (Debian's sitecustomize.py is a link to
    /etc/python3.x/), so no link is left dangling for the interpreter to trip over."""
    for folder, _dirs, names in os.walk(root):
        for name in names:
            link = Path(folder, name)
            if not link.is_symlink():
                continue
            target = os.path.normpath(Path("/", link.parent.relative_to(root)) / os.readlink(link))
            if Path(target).is_file() and not present(root, target):
                copy_file(target, root)


def _no_bytecode(_folder: str, names: list[str]) -> set[str]:
    return {"__pycache__"} & set(names)


def _stdlib_left_out(_folder: str, names: list[str]) -> set[str]:
    return {
        name
        for name in names
        if name in STDLIB_LEFT_OUT
        or name == "__pycache__"
        or name.startswith("config-")
        or name.startswith(STDLIB_LEFT_OUT_FILES)
    }


def requirement_names(requirements: Path) -> list[str]:
    return re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", requirements.read_text(encoding="utf-8"), re.MULTILINE)


def copy_packages(names: Iterable[str], root: Path) -> None:
    """Each requirement's files as pip recorded them (its RECORD), within its site folder."""
    for name in names:
        distribution = importlib.metadata.distribution(name)
        site = Path(os.path.normpath(str(distribution.locate_file(""))))
        for recorded in distribution.files or []:
            path = Path(os.path.normpath(str(distribution.locate_file(recorded))))
            if path.is_relative_to(site) and path.is_file():  # not the console scripts pip put in bin/
                copy_file(path, root)


def copy_busybox(root: Path) -> None:
    # Through /bin, where the package puts it, so a usr-merged /bin comes along as a link and /bin/sh works.
    busybox = "/bin/busybox" if Path("/bin/busybox").is_file() else shutil.which("busybox")
    if busybox is None:
        raise SystemExit("rootfs: no busybox in the build stage: install busybox-static first")
    listed = set(subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split())
    if absent := sorted(set(BUSYBOX_APPLETS) - listed):
        raise SystemExit(f"rootfs: this busybox lacks the applets {', '.join(absent)}")
    copied = copy_file(busybox, root)
    for applet in BUSYBOX_APPLETS:
        (copied.parent / applet).symlink_to(copied.name)
    if Path(BUSYBOX_LICENSE).is_file():
        copy_file(BUSYBOX_LICENSE, root)
    # sh must answer as /bin/sh, the path of the hook script's #! line, whatever folder busybox is in.
    if not (root / "bin" / "sh").exists():
        raise SystemExit("rootfs: /bin/sh does not lead to busybox in the assembled root")


def copy_libraries(root: Path) -> int:
    """Every library each ELF file in the root loads, as the build stage's loader finds it."""
    libraries = {dependency.path for program in elf_files(root) for dependency in dependencies(program)}
    for library in sorted(libraries - {""}):
        copy_file(library, root)
    return len(libraries)


def strip(root: Path) -> int:
    """Debug information and unneeded symbols out of every ELF file, as python:3.12-slim's own build does
    (--strip-all): a Python built with debug information (a local stand-in base) is three times as large."""
    programs = [str(path) for path in elf_files(root)]
    subprocess.run(["strip", "--strip-unneeded", *programs], check=True)
    return len(programs)


def record_packages(root: Path) -> list[str]:
    """The Debian packages whose programs and libraries are in the root, each described (`dpkg-query -s`) in
    /var/lib/dpkg/status.d/<package> as distroless images do: image scanners and SBOM tools read that folder,
    so the copied libc, OpenSSL or busybox keep their versions in a scan instead of going unseen."""
    candidates: set[str] = set()
    for program in elf_files(root):
        path = "/" + str(program.relative_to(root))
        # A usr-merged system: dpkg knows each file by the path its package shipped, /lib/... or /usr/lib/...
        candidates |= {path, path.removeprefix("/usr") if path.startswith("/usr/") else "/usr" + path}
    found = subprocess.run(["dpkg-query", "-S", *sorted(candidates)], capture_output=True, text=True, check=False)
    packages = sorted(
        {
            name.strip().split(":")[0]
            for line in found.stdout.splitlines()
            if ": " in line and not line.startswith("diversion")
            for name in line.split(": ", 1)[0].split(",")
        }
    )
    folder = root / "var" / "lib" / "dpkg" / "status.d"
    folder.mkdir(parents=True, exist_ok=True)
    for package in packages:
        stanza = subprocess.run(["dpkg-query", "-s", package], capture_output=True, text=True, check=True).stdout
        (folder / package).write_text(stanza, encoding="utf-8")
    return packages


def write_etc(root: Path) -> None:
    for relative, text in ETC_FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    # The loader's cache, made for this root: it finds libpython and others outside the default folders.
    for config in ("/etc/ld.so.conf", "/etc/ld.so.conf.d"):
        if Path(config).is_dir():
            copy_tree(config, root)
        elif Path(config).is_file():
            copy_file(config, root)
    subprocess.run(["ldconfig", "-X", "-r", str(root)], check=True)
    (root / "tmp").mkdir(mode=0o1777, exist_ok=True)
    (root / "tmp").chmod(0o1777)


def assemble(root: Path, action: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    python = shutil.which("python") or sys.executable
    copy_file(python, root)
    copy_file(os.path.realpath(sys.executable), root)
    paths = sysconfig.get_paths()
    for folder in dict.fromkeys((paths["stdlib"], paths["platstdlib"])):  # usually one folder
        copy_tree(folder, root, _stdlib_left_out)
    complete_links(root)
    copy_packages(requirement_names(action / "requirements.txt"), root)
    copy_tree(action, root)
    copy_busybox(root)
    count = copy_libraries(root)
    strip(root)
    packages = record_packages(root)
    write_etc(root)
    print(f"rootfs: {python} ({sys.version.split()[0]}), {count} shared libraries, busybox applets {BUSYBOX_APPLETS}")
    print(f"rootfs: Debian packages in /var/lib/dpkg/status.d: {' '.join(packages)}")


if __name__ == "__main__":
    assemble(Path(sys.argv[1] if len(sys.argv) > 1 else "/rootfs"), Path("/action"))

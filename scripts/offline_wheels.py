"""Install the pure-Python wheels carried in a folder, offline, where they are missing.

    python scripts/offline_wheels.py .whl TARGET_DIR

For a machine with no network (the GPU machine of scripts/gpu_check.sh): each
``NAME-VERSION-py3-none-any.whl`` whose distribution this Python does not have yet is
unpacked into ``TARGET_DIR`` (a pure-Python wheel is an archive of its files, so neither
pip nor a network is needed); put ``TARGET_DIR`` at the END of ``PYTHONPATH`` and what the
machine has installed itself still wins. Prints one line per wheel; exits non-zero on a
wheel that is not pure Python (it would need pip and a matching platform).
"""
from __future__ import annotations

import importlib.metadata
import pathlib
import sys
import zipfile


def distribution(wheel: pathlib.Path) -> str:
    """The distribution name a wheel's file name starts with (``graphviz`` for
    ``graphviz-0.21-py3-none-any.whl``)."""
    return wheel.name.split("-")[0]


def install(folder, target):
    """Unpack the missing pure-Python wheels of ``folder`` into ``target``.

    Parameters
    ----------
    folder : str or pathlib.Path
        Where the ``.whl`` files are.
    target : str or pathlib.Path
        The folder to unpack them into (made when missing).

    Returns
    -------
    list of str
        One line per wheel: unpacked, already installed, or refused.
    """
    folder, target = pathlib.Path(folder), pathlib.Path(target)
    lines = []
    for wheel in sorted(folder.glob("*.whl")):
        name = distribution(wheel)
        if not wheel.name.endswith("-py3-none-any.whl"):
            lines.append(f"refused {wheel.name}: not a pure-Python wheel")
            continue
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            target.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target)
            lines.append(f"unpacked {wheel.name} into {target}")
        else:
            lines.append(f"kept the installed {name} {have} (not {wheel.name})")
    return lines


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    lines = install(*args)
    for line in lines:
        print(line)
    return 1 if any(line.startswith("refused") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())

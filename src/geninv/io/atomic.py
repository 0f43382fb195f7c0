"""Atomic, conservative writes.

Every file and directory geninv writes goes through this module:

* **Atomic.**  The content is written to a temporary name in the target's own
  directory (so the final ``rename`` never crosses a file system), flushed with
  ``fsync``, renamed over the target, and the directory entry is ``fsync``-ed.
  A reader sees the old target or the complete new one, never a half-written one.
* **Conservative.**  An existing target of any kind is refused unless ``force``;
  with ``force`` only a regular file (for a file) or a directory geninv wrote
  (for a directory: an instance with a geninv ``problem.json``, or a VNN-COMP
  export) is replaced.  A symbolic link, a device, a FIFO or socket, a foreign
  directory, and any path inside (or above) a directory being read
  (``protect``) are refused even with ``force``.
* **Nothing left behind.**  Every temporary path is in a registry while it
  lives; it is removed on every error path, and :func:`remove_live_temps`
  (called by the CLI's SIGINT/SIGTERM handling, and by its supervisor process
  when it had to kill a stuck command) removes whatever is left.
* **Messages name the user's path**, never the temporary one.
* **Permissions follow the umask**, as for any file a program creates: files
  ``0o666 & ~umask``, directories ``0o777 & ~umask`` (e.g. 0644 / 0755 under the usual
  umask 022).  Temporary files made by :mod:`tempfile` are 0600 and its directories
  0700 whatever the umask; :func:`atomic_file` and :func:`atomic_dir` set the modes
  of what they put in place (every entry of a directory tree) before the rename.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from geninv.errors import GeninvError, OutputExistsError

#: Temporary paths alive now (files or directories).
_LIVE: set[str] = set()
_LOCK = threading.Lock()
#: Called with ("+", path) when a temp path is created and ("-", path) when it is gone
#: (the CLI supervisor listens, so it can clean up after a command it had to kill).
HOOKS: list[Callable[[str, str], None]] = []


class OutputError(GeninvError):
    """An output could not be written, or may not be replaced."""


def _notify(op: str, path: str) -> None:
    for hook in list(HOOKS):
        with contextlib.suppress(Exception):
            hook(op, path)


def register_temp(path: str | os.PathLike[str]) -> None:
    """Record a temporary path as alive (and tell :data:`HOOKS`), so a killed command's
    supervisor can remove it."""
    p = os.path.abspath(os.fspath(path))
    with _LOCK:
        _LIVE.add(p)
    _notify("+", p)


def unregister_temp(path: str | os.PathLike[str]) -> None:
    """Forget a temporary path (it has been removed or renamed into place) and tell
    :data:`HOOKS`."""
    p = os.path.abspath(os.fspath(path))
    with _LOCK:
        _LIVE.discard(p)
    _notify("-", p)


def live_temps() -> list[str]:
    """The temporary paths alive now, absolute and sorted."""
    with _LOCK:
        return sorted(_LIVE)


def remove_path(path: str) -> None:
    """Remove a file, link or directory tree; missing is fine."""
    with contextlib.suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def remove_live_temps() -> None:
    """Remove every registered temporary path (error paths, SIGINT, SIGTERM)."""
    for p in live_temps():
        remove_path(p)
        unregister_temp(p)


def current_umask() -> int:
    """The process's umask: from ``/proc/self/status`` (Linux), else by setting it and
    putting it back under a lock (a file another thread creates meanwhile gets 0o077)."""
    with (
        contextlib.suppress(OSError, ValueError),
        open("/proc/self/status", encoding="ascii", errors="replace") as fh,
    ):
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def umask_modes(root: Path) -> None:
    """Give ``root`` and, for a directory, every entry below it (links excepted) the
    modes a new file or directory gets: ``0o666 & ~umask`` / ``0o777 & ~umask``."""
    mask = current_umask()
    file_mode, dir_mode = 0o666 & ~mask, 0o777 & ~mask

    def fix(path: str, is_dir: bool) -> None:
        if not os.path.islink(path):
            os.chmod(path, dir_mode if is_dir else file_mode)

    if not root.is_dir():
        fix(str(root), False)
        return
    for dirpath, dirs, files in os.walk(root):
        for name in files:
            fix(os.path.join(dirpath, name), False)
        for name in dirs:
            fix(os.path.join(dirpath, name), True)
    fix(str(root), True)


def _temp_name(target: Path, suffix: str) -> Path:
    return target.parent / f".{target.name}.{secrets.token_hex(4)}{suffix}"


# ------------------------------------------------------------------ target checks
def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def is_geninv_dir(path: Path) -> bool:
    """A directory geninv wrote: an instance (``problem.json`` with the geninv format
    tag), a lab report (``report.json`` with its format tag beside ``index.html``) or a
    VNN-COMP export (``instances.csv`` beside ``onnx/`` and ``vnnlib/``)."""
    pj = path / "problem.json"
    if pj.is_file() and not pj.is_symlink():
        try:
            with open(pj, encoding="utf-8") as fh:
                head = fh.read(4096)
        except (OSError, UnicodeDecodeError):
            return False
        return '"format": "geninv-problem"' in head or '"format":"geninv-problem"' in head
    rj = path / "report.json"  # a lab report (geninv.lab.report)
    if rj.is_file() and not rj.is_symlink() and (path / "index.html").is_file():
        try:
            with open(rj, encoding="utf-8") as fh:
                head = fh.read(4096)
        except (OSError, UnicodeDecodeError):
            return False
        return '"format": "geninv-lab-report"' in head
    return (path / "instances.csv").is_file() and (path / "onnx").is_dir()


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_target(
    path: str | os.PathLike[str],
    force: bool,
    *,
    directory: bool = False,
    protect: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Refuse a target geninv may not write; returns it as a Path.

    ``protect`` lists paths being read (e.g. the instance directory being
    solved): the target may be neither inside one of them nor above one.
    """
    target = Path(os.fspath(path))
    if target.name in ("", ".", ".."):
        raise OutputError(f"{path}: not a file name to write to")
    real = Path(os.path.realpath(target.parent)) / target.name
    for prot in protect:
        pr = Path(os.path.realpath(os.fspath(prot)))
        if _inside(real, pr) or _inside(pr, real):
            raise OutputError(
                f"{path}: is inside (or contains) {prot}, which this command reads; "
                "write somewhere else"
            )
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"{path}: cannot inspect ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(
            f"{path}: is a symbolic link; geninv never writes through or replaces a link "
            "(remove it, or give the real path)"
        )
    what = _kind(st.st_mode)
    if not force:
        raise OutputExistsError(
            f"{path}: already exists ({what}); choose another path or pass --force"
        )
    if directory:
        if not stat.S_ISDIR(st.st_mode) or not is_geninv_dir(target):
            raise OutputError(
                f"{path}: exists and is {what}"
                + (" that geninv did not write" if stat.S_ISDIR(st.st_mode) else "")
                + "; --force replaces only a directory geninv wrote (choose another path)"
            )
    elif not stat.S_ISREG(st.st_mode):
        raise OutputError(
            f"{path}: is {what}; --force replaces only a regular file (choose another path)"
        )
    return target


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _os_error(path: str | os.PathLike[str], exc: OSError) -> OutputError:
    return OutputError(f"{os.fspath(path)}: cannot write ({exc.strerror or exc})")


# ------------------------------------------------------------------ files
@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    protect: Sequence[str | os.PathLike[str]] = (),
    mode: str = "w",
) -> Iterator[IO[Any]]:
    """``with atomic_file(p) as fh: fh.write(...)``: the file appears whole or not at all."""
    target = check_target(path, force, protect=protect)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(path, exc) from None
    tmp = _temp_name(target, ".tmp")
    register_temp(tmp)
    try:
        try:
            kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
            with open(tmp, mode.replace("w", "x"), **kwargs) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            umask_modes(tmp)
            check_target(path, force, protect=protect)  # still ours to replace?
            os.replace(tmp, target)
        except OSError as exc:
            raise _os_error(path, exc) from None
        _fsync_dir(target.parent)
    finally:
        if os.path.lexists(tmp):
            remove_path(str(tmp))
        unregister_temp(tmp)


def write_text(
    path: str | os.PathLike[str],
    text: str,
    *,
    force: bool = False,
    protect: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (:func:`atomic_file`: whole or not at all);
    returns ``path``."""
    return write_bytes(path, text.encode("utf-8"), force=force, protect=protect)


def write_bytes(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    force: bool = False,
    protect: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_file`; an existing file only with
    ``force``, never inside or above a path in ``protect``: :func:`check_target`); returns
    ``path``."""
    with atomic_file(path, force=force, protect=protect, mode="wb") as fh:
        fh.write(data)
    return Path(os.fspath(path))


def write_json(
    path: str | os.PathLike[str],
    doc: Any,
    *,
    force: bool = False,
    protect: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``doc`` as indented JSON plus a newline to ``path`` atomically; returns ``path``."""
    return write_text(path, json.dumps(doc, indent=1) + "\n", force=force, protect=protect)


# ------------------------------------------------------------------ directories
def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        _fsync_dir(Path(dirpath))


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    protect: Sequence[str | os.PathLike[str]] = (),
) -> Iterator[Path]:
    """``with atomic_dir(p) as tmp: ...write into tmp...``; then ``tmp`` becomes ``p``.

    An existing ``p`` (allowed only with ``force`` and only if geninv wrote it) is
    moved aside and removed after the new one is in place; if that fails, it is
    moved back.  On any error or signal the temporary directory is removed.
    """
    target = check_target(path, force, directory=True, protect=protect)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(path, exc) from None
    tmp = _temp_name(target, ".tmp")
    register_temp(tmp)
    old: Path | None = None
    try:
        try:
            tmp.mkdir()
        except OSError as exc:
            raise _os_error(path, exc) from None
        try:
            yield tmp
        except OSError as exc:
            inside = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
            if any(f.startswith(str(tmp)) for f in inside) or not inside:
                # a write into the temporary directory failed: name the user's path
                raise _os_error(path, exc) from None
            raise  # about another file (e.g. a source that cannot be read)
        try:
            umask_modes(tmp)
            _fsync_tree(tmp)
            check_target(path, force, directory=True, protect=protect)
            if os.path.lexists(target):
                old = _temp_name(target, ".old")
                register_temp(old)
                os.rename(target, old)
            try:
                os.rename(tmp, target)
            except OSError:
                if old is not None:
                    os.rename(old, target)
                    unregister_temp(old)
                    old = None
                raise
            _fsync_dir(target.parent)
        except OSError as exc:
            raise _os_error(path, exc) from None
    finally:
        if os.path.lexists(tmp):
            remove_path(str(tmp))
        unregister_temp(tmp)
        if old is not None:
            remove_path(str(old))
            unregister_temp(old)

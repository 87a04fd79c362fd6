"""Remote input files (XRootD ``root://`` URLs, HTTP) next to local paths.

Input fields and readers take ``root://host:port//path/file.root`` URLs (and
globs or directories of them) wherever they take local paths. A URL resolves
to a :class:`RemotePath`: a ``str`` (so uproot, coffea and JSON take it as the
URL it is) with the few ``pathlib.Path`` methods the readers use (``name``,
``exists``, ``is_file``, ``stat``, ``open``), answered through fsspec
(``fsspec-xrootd`` for XRootD, extra ``[xrootd]``).
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from decorr_af.errors import InputFileError

__all__ = ["RemotePath", "expand_remote", "is_remote", "sort_sources", "source_path"]

#: URL schemes read remotely (``file://`` stays local)
REMOTE_SCHEMES = ("root", "roots", "xroot", "xroots", "http", "https", "s3", "gs")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


def is_remote(text: Any) -> bool:
    """Whether ``text`` is a URL read remotely (``root://``, ``https://``, ...).

    Examples
    --------
    >>> is_remote("root://eosatlas.cern.ch//eos/atlas/x.root"), is_remote("/data/x.root")
    (True, False)
    """
    if isinstance(text, RemotePath):
        return True
    if not isinstance(text, str):
        return False
    m = _URL.match(text)
    return m is not None and m["scheme"].lower() in REMOTE_SCHEMES


class _Stat:
    """The part of ``os.stat_result`` input fingerprints use."""

    def __init__(self, size: int, mtime: float | None) -> None:
        self.st_size = int(size)
        self.st_mtime_ns = int(float(mtime or 0) * 1e9)


class RemotePath(str):
    """A remote file URL that answers the ``pathlib.Path`` questions readers ask.

    Examples
    --------
    >>> p = RemotePath("root://127.0.0.1:1094//data/mc_000.root")
    >>> p.name, p.suffix, str(p)
    ('mc_000.root', '.root', 'root://127.0.0.1:1094//data/mc_000.root')
    """

    __slots__ = ()

    def _fs(self) -> tuple[Any, str]:
        from decorr_af._compat import optional_import

        fsspec = optional_import("fsspec", "xrootd")
        try:
            return fsspec.core.url_to_fs(str(self))
        except (ImportError, ValueError) as err:
            raise InputFileError(
                f"cannot read {self}: no fsspec filesystem for this URL ({err}); "
                "for root:// URLs pip install 'decorr_af[xrootd]'"
            ) from err

    @property
    def name(self) -> str:
        """Last path component."""
        return posixpath.basename(self.rstrip("/"))

    @property
    def suffix(self) -> str:
        """File extension with its dot."""
        return posixpath.splitext(self.name)[1]

    def info(self) -> dict[str, Any]:
        """fsspec metadata of the file (``size``, ``type``, ``mtime``); OSError when absent."""
        fs, path = self._fs()
        try:
            return dict(fs.info(path))
        except FileNotFoundError:
            raise
        except OSError as err:
            raise OSError(f"cannot reach {self}: {err}") from err

    def exists(self) -> bool:
        """Whether the remote file or directory exists (False when unreachable)."""
        try:
            self.info()
        except OSError:
            return False
        return True

    def is_file(self) -> bool:
        """Whether it is an existing remote file."""
        try:
            return self.info().get("type") == "file"
        except OSError:
            return False

    def is_dir(self) -> bool:
        """Whether it is an existing remote directory."""
        try:
            return self.info().get("type") == "directory"
        except OSError:
            return False

    def stat(self) -> _Stat:
        """Size and modification time (``st_size``, ``st_mtime_ns``)."""
        info = self.info()
        return _Stat(info.get("size", 0), info.get("mtime"))

    def open(self, mode: str = "rb") -> Any:
        """An fsspec file object (read-only)."""
        if mode not in ("r", "rb"):
            raise ValueError(f"{self}: remote inputs open read-only, not {mode!r}")
        fs, path = self._fs()
        return fs.open(path, "rb")

    def expanduser(self) -> RemotePath:
        """The URL itself (nothing to expand)."""
        return self

    absolute = resolve = expanduser


def expand_remote(text: str, *, key: str | None = None) -> list[RemotePath]:
    """A URL, a glob URL or a directory URL (its ``*.root`` files) as remote files.

    Parameters
    ----------
    text
        ``root://host:port//path/x.root``, ``root://host//dir/*.root`` or a directory.
    key
        The config key named in errors (``"mc_files"``).

    Raises
    ------
    InputFileError
        Nothing matches, or the server cannot be reached.
    """
    where = f"{key}: " if key else ""
    url = RemotePath(text)
    fs, path = url._fs()
    try:
        if glob.has_magic(path):
            found = sorted(fs.glob(path))
        elif url.is_dir():
            found = sorted(fs.glob(posixpath.join(path, "*.root")))
        else:
            found = [path] if url.is_file() else []
    except OSError as err:
        raise InputFileError(f"{where}cannot read {text} ({err})") from err
    if not found:
        reach = "" if _server_answers(fs) else " (the server does not answer)"
        raise InputFileError(f"{where}no file matches {text!r}{reach}")
    return [RemotePath(fs.unstrip_protocol(p)) for p in found]


def _server_answers(fs: Any) -> bool:
    try:
        fs.info("/")
    except Exception:
        return False
    return True


def source_path(item: str | os.PathLike[str]) -> Path | RemotePath:
    """A local ``Path`` (``~`` expanded, absolute) or a :class:`RemotePath` for a URL."""
    if is_remote(item):
        return item if isinstance(item, RemotePath) else RemotePath(str(item))
    return Path(item).expanduser().absolute()


def sort_sources(items: Iterable[Path | RemotePath]) -> list[Path | RemotePath]:
    """Sorted, de-duplicated; local paths first in ``Path`` order, then URLs.

    Examples
    --------
    >>> sort_sources([RemotePath("root://h//b.root"), Path("/a/z.root"), Path("/a/y.root")])
    [PosixPath('/a/y.root'), PosixPath('/a/z.root'), 'root://h//b.root']
    """
    unique = dict.fromkeys(items)
    return sorted(
        unique, key=lambda p: (1, str(p), ()) if isinstance(p, RemotePath) else (0, "", p.parts)
    )

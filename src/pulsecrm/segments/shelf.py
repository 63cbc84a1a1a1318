"""The audience snapshot's base, shared by the processes of one machine: an Arrow IPC file that
each maps read-only.

The first process to need a base builds it from the database and publishes it here; the others
map that file instead of loading every customer again. Polars takes the mapped Arrow buffers
without a copy, so N `serve` processes hold one base between them in the page cache; each
keeps only its delta (the customers re-read since the file's feed position) to itself.

A file is named for its database (`key`) and the change-feed position it is complete up to
(`seq`); its metadata also carries the time on that feed row, which a reader checks against
the database before taking the file. A file of another database, or of this one before it was
emptied, has no such row and is ignored. Files are written under a temporary name and renamed,
so a reader never sees half of one.

Every process that maps a file holds a shared `flock` on it; a file that no process holds is
deleted when a newer one is published or when the last process using the shelf leaves, so the
files in RAM last only as long as the processes that use them.

The directory is the owner's alone (0700): the files hold customers' names, e-mail addresses
and phone numbers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc

if sys.platform != "win32":  # no flock there: each process keeps its own snapshot (Shelf.open)
    import fcntl

log = logging.getLogger(__name__)

_META = b"pulsecrm"
FORMAT = 1
# A file nobody maps and that is older than this is removed whatever database it is for
# (a process killed before it could tidy up).
ORPHAN_SECONDS = 3600.0


@dataclass(frozen=True)
class Published:
    path: Path
    seq: int
    meta: dict[str, Any]  # format, seq, feed_at, columns: [{name, type, attribute, dictionary}]


class Mapped:
    """A published base mapped into this process, with the shared lock that keeps it on disk."""

    def __init__(self, published: Published, frame: pl.DataFrame, lock: IO[bytes], held: set[Mapped]) -> None:
        self.published = published
        self.frame = frame
        self._lock = lock
        self._held = held  # the shelf's: what `leave` lets go of
        held.add(self)

    def release(self) -> None:
        """Let the file go (the frame stays readable: a mapping outlives its file's name)."""
        self._lock.close()
        self._held.discard(self)


def default_directory() -> Path:
    """A RAM-backed directory where there is one (the files are the snapshot; a disk adds nothing)."""
    shm = Path("/dev/shm")  # noqa: S108 - the directory below it is made 0700 and checked (Shelf.open)
    root = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    user = os.geteuid() if sys.platform != "win32" else os.getlogin()
    return root / f"pulsecrm-audience-{user}"


class Shelf:
    """The published bases of one database in `directory`."""

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = directory
        self.key = key
        # Every file this process maps, including one a cancelled task mapped and never used.
        self._held: set[Mapped] = set()
        # Set by `leave`: a thread still mapping or publishing (its task cancelled) then
        # keeps nothing. The lock orders that against `leave`.
        self._left = False
        self._guard = threading.Lock()
        self._locks: set[IO[bytes]] = set()  # build locks held, as `_held` for the same reason

    @classmethod
    def open(cls, directory: Path, key: str) -> Shelf | None:
        """The shelf, or None (and a warning) if the directory is not safely this user's alone."""
        if sys.platform == "win32":
            return None
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = directory.lstat()
        except OSError as exc:
            log.warning("audience snapshots are not shared between processes: %s", exc)
            return None
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            log.warning(
                "audience snapshots are not shared between processes: %s is not a directory "
                "that only this user can read",
                directory,
            )
            return None
        return cls(directory, key)

    # --- reading ---

    def _files(self) -> list[tuple[int, Path]]:
        out = []
        for path in self.directory.glob(f"{self.key}-*.arrow"):
            with contextlib.suppress(ValueError, IndexError):
                out.append((int(path.name.split("-")[1]), path))
        return sorted(out)

    def newest(self) -> Published | None:
        """The published base furthest along the feed, with its metadata (None if there is none
        or it can't be read)."""
        files = self._files()
        if not files:
            return None
        seq, path = files[-1]
        try:
            with pa.memory_map(str(path)) as source:
                metadata = ipc.open_file(source).schema.metadata or {}
            meta = orjson.loads(metadata[_META])
        except (OSError, KeyError, pa.ArrowException, orjson.JSONDecodeError):
            return None
        if meta.get("format") != FORMAT or meta.get("seq") != seq:
            return None
        return Published(path, seq, meta)

    def map(self, published: Published) -> Mapped | None:
        """Map a published base (None if it was removed meanwhile, or can't be read)."""
        try:
            lock = published.path.open("rb")
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(lock, fcntl.LOCK_SH)
            if os.fstat(lock.fileno()).st_nlink == 0:  # removed before the lock was ours
                lock.close()
                return None
            table = ipc.open_file(pa.memory_map(str(published.path))).read_all()
            frame = pl.from_arrow(table, rechunk=False)
        except pa.ArrowException as exc:  # not an Arrow file: the caller builds its own
            lock.close()
            log.warning("the audience snapshot %s can't be read: %s", published.path, exc)
            return None
        except BaseException:
            lock.close()
            raise
        assert isinstance(frame, pl.DataFrame)
        with self._guard:
            if not self._left:
                return Mapped(published, frame, lock, self._held)
        lock.close()
        _remove_unused(published.path)  # `leave` may have found it held by this very call
        return None

    # --- writing ---

    def publish(self, base: pl.DataFrame, meta: dict[str, Any]) -> Published:
        """Write `base` with `meta` (its `seq` included) under its final name, atomically."""
        seq = int(meta["seq"])
        table = base.to_arrow()
        schema = table.schema.with_metadata({_META: orjson.dumps({"format": FORMAT, **meta})})
        final = self.directory / f"{self.key}-{seq:015d}-{os.getpid()}.arrow"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{self.key}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as sink, ipc.new_file(sink, schema) as writer:
                writer.write_table(table.replace_schema_metadata(schema.metadata))
            with self._guard:
                if self._left:
                    raise FileNotFoundError(f"{self.directory}: this process has left the shelf")
                os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return Published(final, seq, {"format": FORMAT, **meta})

    def lock(self, *, wait: bool) -> IO[bytes] | None:
        """The exclusive lock on building or merging this database's base (`unlock` releases
        it); with wait=False, None at once while another process holds it."""
        handle = (self.directory / f".{self.key}.lock").open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.close()
            return None
        except BaseException:
            handle.close()
            raise
        with self._guard:
            if self._left:
                handle.close()
                return None
            self._locks.add(handle)
        return handle

    def unlock(self, handle: IO[bytes] | None) -> None:
        if handle is not None:
            handle.close()
            with self._guard:
                self._locks.discard(handle)

    def tidy(self, keep: Path | None = None) -> None:
        """Remove this database's files that no process maps, except `keep`, and any file here
        that nobody holds and is older than ORPHAN_SECONDS (a process killed before it could
        tidy up). A process about to map a file that goes meanwhile builds its own."""
        mine = [path for _, path in self._files() if path != keep]
        now = time.time()
        for path in self.directory.iterdir():
            if path in mine or path == keep or not path.name.endswith((".arrow", ".tmp", ".lock")):
                continue
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > ORPHAN_SECONDS:
                    mine.append(path)
        for path in mine:
            _remove_unused(path)

    def leave(self) -> None:
        """This process is done with the shelf: remove what nobody else uses. (The build lock's
        file may go while another process waits on it; at worst two build at once.)"""
        with self._guard:
            self._left = True
            held, locks = list(self._held), list(self._locks)
        for mapped in held:
            mapped.release()
        for handle in locks:
            self.unlock(handle)
        self.tidy()
        _remove_unused(self.directory / f".{self.key}.lock")


def _remove_unused(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody maps it
            path.unlink()
    except (BlockingIOError, FileNotFoundError):
        pass
    except OSError as exc:
        log.warning("could not remove the audience snapshot %s: %s", path, exc)

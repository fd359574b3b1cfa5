"""Where checkpoint files live: a local (or mounted) folder, or an S3-compatible object
store (``state.checkpoints.dir`` = ``s3://bucket/path``), through pyarrow's filesystems.

Both keep the one rule that makes a checkpoint safe: its ``_metadata`` is written last and
whole. A folder gets it through a temporary file, fsync and rename; an object store
through one upload (an object becomes visible whole, when its PUT or multipart upload
completes, or not at all), so a reader never sees half a metadata file and a checkpoint
without one is garbage.

A location is a string: a path for a folder, an ``s3://bucket/key`` URL for the object
store, so the same checkpoint metadata, barrier and restore messages work for both, and
a Ray node without a shared disk restores from the object store. DuckDB writes and
attaches only local files: a snapshot is written to a local temporary file and uploaded
(``staging``, ``publish``), and a restored one downloaded first (``reading``).

The object store's options are Flink's (``s3.endpoint``, ``s3.access-key``,
``s3.secret-key``, ``s3.path.style.access``); without keys, pyarrow's AWS default chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ~/.aws, an instance role) is used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from catalog.config import S3_ACCESS_KEY, S3_ENDPOINT, S3_PATH_STYLE_ACCESS, S3_SECRET_KEY
from catalog.errors import SqlStreamError

S3_SCHEMES = ("s3://", "s3a://", "s3p://")  # Flink's two S3 filesystems answer to these too


class StoreError(SqlStreamError):
    """The checkpoint store cannot be reached or used."""


def is_object_store(location: str) -> bool:
    """True for an object store URL (``s3://...``), False for a folder.

    >>> is_object_store("s3://bucket/checkpoints"), is_object_store("/mnt/checkpoints")
    (True, False)
    """
    return location.lower().startswith(S3_SCHEMES)


class Store(ABC):
    """The operations checkpoints need, on locations (strings) of one kind."""

    remote = False  # True: files are copied to and from this machine (``publish``, ``reading``)

    @abstractmethod
    def join(self, base: str, *names: str) -> str: ...

    @abstractmethod
    def makedirs(self, location: str) -> None: ...

    @abstractmethod
    def write_atomically(self, location: str, text: str) -> None:
        """Write ``text`` so that a reader sees the old content, or the whole new one."""

    @abstractmethod
    def read_text(self, location: str) -> str:
        """The file's text; ``FileNotFoundError`` when there is none."""

    @abstractmethod
    def is_file(self, location: str) -> bool: ...

    @abstractmethod
    def children(self, location: str) -> list[str]:
        """The names directly under ``location`` (none when it does not exist)."""

    @abstractmethod
    def delete_tree(self, location: str) -> None:
        """Delete ``location`` and everything under it; nothing there is no error."""

    @abstractmethod
    def delete(self, location: str) -> None:
        """Delete one file; none there is no error."""

    @abstractmethod
    def size(self, location: str) -> int: ...

    @abstractmethod
    def staging(self, location: str) -> Path:
        """A local path to write the file that belongs at ``location`` to; ``publish``
        puts it there."""

    @abstractmethod
    def publish(self, local: Path, location: str) -> None:
        """Put the file written to ``staging(location)`` at ``location``."""

    @abstractmethod
    def reading(self, location: str) -> contextlib.AbstractContextManager[Path]:
        """A local path holding the file at ``location``, for the block's duration."""


def fsync_dir(path: Path | str) -> None:
    """Make a directory's entries (a rename into it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore(Store):
    """A folder on this machine, or a mount every node shares."""

    def join(self, base: str, *names: str) -> str:
        return str(Path(base, *names))

    def makedirs(self, location: str) -> None:
        Path(location).mkdir(parents=True, exist_ok=True)

    def write_atomically(self, location: str, text: str) -> None:
        path = Path(location)
        tmp = path.with_name(path.name + ".inprogress")
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)

    def read_text(self, location: str) -> str:
        return Path(location).read_text()

    def is_file(self, location: str) -> bool:
        return Path(location).is_file()

    def children(self, location: str) -> list[str]:
        path = Path(location)
        return [child.name for child in path.iterdir()] if path.is_dir() else []

    def delete_tree(self, location: str) -> None:
        shutil.rmtree(location, ignore_errors=True)

    def delete(self, location: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            Path(location).unlink()

    def size(self, location: str) -> int:
        return Path(location).stat().st_size

    def staging(self, location: str) -> Path:
        return Path(location)

    def publish(self, local: Path, location: str) -> None:
        pass  # written in place

    @contextlib.contextmanager
    def reading(self, location: str) -> Iterator[Path]:
        yield Path(location)


class ObjectStore(Store):
    """An S3-compatible object store (AWS S3, MinIO, SeaweedFS, ...) through
    ``pyarrow.fs.S3FileSystem``. Folders are key prefixes: nothing to create, and a
    "folder" exists while an object under it does."""

    remote = True

    def __init__(self, fs: Any, scheme: str = "s3://") -> None:
        self.fs = fs
        self.scheme = scheme

    @classmethod
    def from_config(cls, location: str, config: Mapping[str, str]) -> ObjectStore:
        from pyarrow import fs

        options: dict[str, Any] = {}
        endpoint = (S3_ENDPOINT.get(config) or "").strip()
        if endpoint:
            scheme, sep, rest = endpoint.partition("://")
            options["endpoint_override"] = rest.rstrip("/") if sep else endpoint
            options["scheme"] = scheme.lower() if sep else "https"
            options["region"] = "us-east-1"  # what S3-compatible servers answer to
        access, secret = S3_ACCESS_KEY.get(config), S3_SECRET_KEY.get(config)
        if bool(access) != bool(secret):
            raise StoreError(
                f"'{S3_ACCESS_KEY.name}' and '{S3_SECRET_KEY.name}' go together: only one is set",
                hint="set both, or neither to use the AWS default credentials (AWS_ACCESS_KEY_ID, ...)",
            )
        if access:
            options["access_key"], options["secret_key"] = access, secret
        if S3_PATH_STYLE_ACCESS.name in config:
            # unset: path style for an 's3.endpoint' of its own, virtual-hosted for AWS
            options["force_virtual_addressing"] = not S3_PATH_STYLE_ACCESS.get(config)
        options["connect_timeout"] = 10.0
        options["request_timeout"] = 60.0
        scheme = location[: location.index("://") + 3].lower()
        return cls(fs.S3FileSystem(**options), scheme)

    def _key(self, location: str) -> str:
        """The filesystem's path (``bucket/key``) of an ``s3://bucket/key`` location."""
        return location[location.index("://") + 3 :].strip("/")

    def join(self, base: str, *names: str) -> str:
        return "/".join([base.rstrip("/"), *names])

    def makedirs(self, location: str) -> None:
        pass  # a prefix needs no object; the first file makes it

    def write_atomically(self, location: str, text: str) -> None:
        with self._errors(location), self.fs.open_output_stream(self._key(location)) as f:
            f.write(text.encode())

    def read_text(self, location: str) -> str:
        with self._errors(location), self.fs.open_input_stream(self._key(location)) as f:
            return bytes(f.read()).decode()

    def is_file(self, location: str) -> bool:
        from pyarrow import fs

        with self._errors(location):
            return bool(self.fs.get_file_info(self._key(location)).type == fs.FileType.File)

    def children(self, location: str) -> list[str]:
        from pyarrow import fs

        selector = fs.FileSelector(self._key(location), allow_not_found=True)
        with self._errors(location):
            return [info.base_name for info in self.fs.get_file_info(selector)]

    def delete_tree(self, location: str) -> None:
        with contextlib.suppress(FileNotFoundError), self._errors(location):
            self.fs.delete_dir(self._key(location))

    def delete(self, location: str) -> None:
        with contextlib.suppress(FileNotFoundError), self._errors(location):
            self.fs.delete_file(self._key(location))

    def size(self, location: str) -> int:
        with self._errors(location):
            return int(self.fs.get_file_info(self._key(location)).size or 0)

    def staging(self, location: str) -> Path:
        return Path(tempfile.mkdtemp(prefix="sqlstream-upload-")) / location.rsplit("/", 1)[-1]

    def publish(self, local: Path, location: str) -> None:
        """Upload, then delete the local file (and its temporary folder)."""
        try:
            key = self._key(location)
            with self._errors(location), open(local, "rb") as src, self.fs.open_output_stream(key) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        finally:
            shutil.rmtree(local.parent, ignore_errors=True)

    @contextlib.contextmanager
    def reading(self, location: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="sqlstream-download-") as tmp:
            local = Path(tmp) / location.rsplit("/", 1)[-1]
            key = self._key(location)
            with self._errors(location), self.fs.open_input_stream(key) as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            yield local

    @contextlib.contextmanager
    def _errors(self, location: str) -> Iterator[None]:
        """pyarrow's OSError for a missing object stays FileNotFoundError (callers test
        for it); any other failure of the store becomes a ``StoreError`` naming it."""
        try:
            yield
        except FileNotFoundError:
            raise
        except OSError as e:
            text = str(e)
            raise StoreError(
                f"the checkpoint store at {location} failed: {text.splitlines()[0] if text else e}",
                hint="check 'state.checkpoints.dir', 's3.endpoint' and the S3 credentials "
                "('s3.access-key' / 's3.secret-key'), and that the bucket exists",
            ) from None


def open_store(location: str, config: Mapping[str, str]) -> Store:
    """The store that holds ``location`` (``state.checkpoints.dir`` or below it)."""
    if is_object_store(location):
        return ObjectStore.from_config(location, config)
    if "://" in location and not location.startswith("file://"):
        raise StoreError(
            f"'state.checkpoints.dir' = '{location}': checkpoints go to a folder or to S3 "
            f"(s3://bucket/path), not to {location.split('://')[0]}://",
            hint="use a folder every node shares, or an S3-compatible object store",
        )
    return LocalStore()


def local_path(location: str) -> str:
    """A folder location without a ``file://`` prefix."""
    return location.removeprefix("file://")

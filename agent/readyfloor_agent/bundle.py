"""Support bundles: everything the collectors read on a seat, in one zip, replayable offline.

``capture_bundle`` runs the collectors through a :class:`RecordingHost` and saves every file,
registry key (as ``reg export`` text), command output and environment value they read.
``open_bundle`` turns such a zip — or an unzipped folder, or one assembled by hand from files a
user sent (see BUNDLE.md) — into a :class:`Host`, so ``collect(open_bundle(path))`` judges the
seat exactly as the agent would have. Anything not in the bundle reads as absent.
"""

from __future__ import annotations

import datetime as dt
import json
import ntpath
import os
import plistlib
import posixpath
import re
import sqlite3
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__, mobileconfig
from .host import (
    DEFAULT_LIMIT,
    PLATFORMS,
    CommandResult,
    ConsoleUser,
    Host,
    HostOverlay,
    NotFound,
    ReadError,
    RegistryKey,
    canonical_key,
    connect_sqlite_readonly,
    live_host,
)
from .regfile import RegFileError, decode_reg, parse_reg, write_reg

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FACTS = "facts.json"
# Characters Windows cannot hold in a file name are kept %-escaped so a bundle unzips anywhere.
_UNSAFE = re.compile(r'[<>:"|?*%\x00-\x1f]')
_MANIFEST_LIMIT = 20_000_000


# --- Paths inside a bundle --------------------------------------------------------------------


def _escape_segment(segment: str) -> str:
    return _UNSAFE.sub(lambda match: f"%{ord(match.group()):02X}", segment)


def _unescape_segment(segment: str) -> str:
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda match: chr(int(match.group(1), 16)), segment)


def _segments(path: str, platform: str) -> list[str]:
    if platform == "windows":
        drive, rest = ntpath.splitdrive(path.replace("/", "\\"))
        head = [drive.rstrip(":").strip("\\").replace("\\", "/")] if drive else []
        return [part for part in [*"/".join(head).split("/"), *rest.split("\\")] if part]
    return [part for part in path.split("/") if part]


def member_for(path: str, platform: str) -> str:
    """Where a machine path is stored: ``C:\\Users\\a\\x`` -> ``files/C/Users/a/x``,
    ``/Users/a/x`` -> ``files/Users/a/x``."""
    return "/".join(["files", *(_escape_segment(part) for part in _segments(path, platform))])


def _path_key(path: str, platform: str) -> str:
    """Comparison key of a machine path: Windows paths are case-insensitive."""
    joined = "/".join(_segments(path, platform))
    return joined.lower() if platform == "windows" else joined


def _member_key(member: str, platform: str) -> str:
    parts = [_unescape_segment(part) for part in member.split("/")[1:] if part]
    joined = "/".join(parts)
    return joined.lower() if platform == "windows" else joined


def command_key(argv: Sequence[str]) -> tuple[str, ...]:
    """The part of a command line that identifies it: wrappers the agent adds to reach the
    user's session (``runuser -u x --``, ``sudo -u x``, ``env K=V``) and the program's directory
    are dropped, so a hand-typed ``pactl -f json list sources`` matches what the agent ran."""
    args = [str(arg) for arg in argv]
    while args:
        head = _program_name(args[0])
        if head in ("runuser", "sudo"):
            args = args[args.index("--") + 1 :] if "--" in args else _drop_options(args[1:])
        elif head == "env":
            args = args[1:]
            while args and "=" in args[0] and not args[0].startswith("-"):
                args = args[1:]
        else:
            break
    if args:
        args[0] = _program_name(args[0])
    return tuple(args)


def _program_name(arg: str) -> str:
    name = ntpath.basename(arg) if "\\" in arg else posixpath.basename(arg)
    name = name.lower()
    return name[:-4] if name.endswith(".exe") else name


def _drop_options(args: list[str]) -> list[str]:
    # sudo -u user [-E] program ...: skip options and their single argument.
    while args and args[0].startswith("-"):
        takes_value = args[0] in ("-u", "-g", "-C", "-D", "-h", "-p", "-U", "-r", "-t")
        args = args[2:] if takes_value else args[1:]
    return args


# --- Reading a bundle -------------------------------------------------------------------------


# Bundles come from seats a helpdesk does not control: nothing in one may make the agent write
# or read outside the bundle. Every member is checked when the bundle is opened (so a bad one is
# refused before anything is read) and again when it is read or extracted.
MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


class BundleRefused(ReadError):
    """The bundle breaks a safety rule; ``rule`` names it (one word), ``reason`` says where."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"refused (rule: {rule}): {detail}")
        self.rule = rule


def unsafe_member_name(name: str) -> str | None:
    """Why a member name (in the zip or named by the manifest) could point outside the bundle;
    None when it is a plain relative name. Backslashes count as separators because Windows
    extracts them as such."""
    if not name:
        return "an empty member name"
    if "\x00" in name:
        return f"member {name!r} has a NUL character"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return f"member {name!r} is an absolute path"
    if any(part == ".." for part in re.split(r"[/\\]", name)):
        return f"member {name!r} climbs out of the bundle with '..'"
    return None


def _check_name(name: str, rule: str = "path") -> None:
    problem = unsafe_member_name(name)
    if problem is not None:
        raise BundleRefused(rule, problem)


def _zip_kind(info: zipfile.ZipInfo) -> str | None:
    """'symlink', 'hard link', 'device' ... when a zip entry is not a plain file or folder.
    Unix zips keep the file mode in the high 16 bits of external_attr."""
    mode = info.external_attr >> 16
    if not mode:
        return None
    kind = stat.S_IFMT(mode)
    if kind in (0, stat.S_IFREG, stat.S_IFDIR):
        return None
    return _KIND_NAMES.get(kind, "special file")


_KIND_NAMES = {
    stat.S_IFLNK: "symlink",
    stat.S_IFCHR: "device",
    stat.S_IFBLK: "device",
    stat.S_IFIFO: "device",
    stat.S_IFSOCK: "device",
}


class _Store:
    """Members of a bundle: a zip file or a folder, checked against the safety rules."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self._zip: zipfile.ZipFile | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._root_id: tuple[int, int] | None = None
        if location.is_dir():
            # The folder the person named (through a link if they gave one); nothing below it is
            # followed.
            self.location = location.resolve()
            self.members = self._scan_folder(self.location)
        else:
            try:
                self._zip = zipfile.ZipFile(location)
            except (OSError, zipfile.BadZipFile) as error:
                raise ReadError(f"{location} is not a bundle (zip or folder): {error}") from None
            try:
                self.members = self._scan_zip(self._zip)
            except BundleRefused:
                self._zip.close()
                raise

    @staticmethod
    def _scan_zip(archive: zipfile.ZipFile) -> list[str]:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise BundleRefused("member-count", f"{len(infos)} members; at most {MAX_MEMBERS} are read")
        seen: set[str] = set()
        total = 0
        for info in infos:
            _check_name(info.filename)
            kind = _zip_kind(info)
            if kind is not None:
                raise BundleRefused(kind.replace(" ", "-"), f"member {info.filename!r} is a {kind}")
            if info.file_size > MAX_MEMBER_BYTES:
                raise BundleRefused(
                    "member-size",
                    f"member {info.filename!r} is {info.file_size} bytes; at most {MAX_MEMBER_BYTES}",
                )
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise BundleRefused("total-size", f"the members add up to more than {MAX_TOTAL_BYTES} bytes")
            # Two entries with one name: which one the agent reads would depend on the reader.
            key = info.filename.rstrip("/")
            if key in seen:
                raise BundleRefused("duplicate", f"member {info.filename!r} appears twice")
            seen.add(key)
        return sorted(info.filename for info in infos if not info.is_dir())

    def _scan_folder(self, root: Path) -> list[str]:
        """Every regular file below ``root``, without following links. A symlink (to a file,
        a folder, or itself), a hard-linked file or a device refuses the whole bundle."""
        members: list[str] = []
        total = 0
        top = os.lstat(root)
        self._root_id = (top.st_dev, top.st_ino)
        for folder, subdirs, files in os.walk(root, followlinks=False):
            for name in sorted(subdirs + files):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, root).replace(os.sep, "/")
                try:
                    info = os.lstat(path)
                except OSError as error:
                    raise ReadError(f"{relative} could not be read from the bundle: {error}") from None
                if stat.S_ISLNK(info.st_mode):
                    raise BundleRefused("symlink", f"{relative} is a symbolic link")
                if stat.S_ISDIR(info.st_mode):
                    continue
                if not stat.S_ISREG(info.st_mode):
                    raise BundleRefused("device", f"{relative} is not a regular file")
                if info.st_nlink > 1:
                    # Another name for a file that may live outside the bundle.
                    raise BundleRefused("hard-link", f"{relative} is hard-linked ({info.st_nlink} names)")
                if info.st_size > MAX_MEMBER_BYTES:
                    raise BundleRefused(
                        "member-size", f"{relative} is {info.st_size} bytes; at most {MAX_MEMBER_BYTES}"
                    )
                total += info.st_size
                members.append(relative)
                if len(members) > MAX_MEMBERS:
                    raise BundleRefused(
                        "member-count", f"more than {MAX_MEMBERS} files; at most that many are read"
                    )
                if total > MAX_TOTAL_BYTES:
                    raise BundleRefused(
                        "total-size", f"the files add up to more than {MAX_TOTAL_BYTES} bytes"
                    )
        return sorted(members)

    def check_named(self, name: str, where: str) -> None:
        """A member name the manifest gives: refused when it could point outside the bundle."""
        problem = unsafe_member_name(name)
        if problem is not None:
            raise BundleRefused("manifest-path", f"manifest {where}: {problem}")

    def read(self, member: str, limit: int) -> bytes:
        limit = min(limit, MAX_MEMBER_BYTES)
        _check_name(member)
        if self._zip is not None:
            try:
                info = self._zip.getinfo(member)
            except KeyError:
                raise NotFound(f"{member} is not in the bundle") from None
            if info.file_size > limit:
                raise ReadError(f"{member} is larger than {limit} bytes; not read")
            try:
                with self._zip.open(info) as handle:
                    # The declared size can lie (a zip bomb): never read past the limit.
                    data = handle.read(limit + 1)
            except (OSError, zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError) as error:
                raise ReadError(f"{member} is damaged in the bundle: {error}") from None
            if len(data) > limit:
                raise ReadError(f"{member} is larger than {limit} bytes; not read")
            return data
        try:
            descriptor = self._open_in_folder(member)
        except OSError as error:
            raise ReadError(f"{member} could not be read from the bundle: {error}") from None
        with os.fdopen(descriptor, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise ReadError(f"{member} is larger than {limit} bytes; not read")
        return data

    def _open_in_folder(self, member: str) -> int:
        """Open a folder member one path component at a time without following any link, so a
        file or folder swapped for a link after the bundle was scanned is still not followed."""
        parts = member.split("/")
        if not _HAS_DIR_FD:
            path = (self.location / member).resolve()
            if not path.is_relative_to(self.location.resolve()):
                raise ReadError(f"{member} is outside the bundle")
            return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        nofollow = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        current = os.open(self.location, os.O_RDONLY | os.O_DIRECTORY | nofollow)
        try:
            top = os.fstat(current)
            if self._root_id is not None and (top.st_dev, top.st_ino) != self._root_id:
                raise ReadError("the bundle folder changed while it was read")
            for part in parts[:-1]:
                following = os.open(part, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=current)
                os.close(current)
                current = following
            # O_NONBLOCK: a FIFO put in place of a file must not hang the agent.
            descriptor = os.open(parts[-1], os.O_RDONLY | nofollow | os.O_NONBLOCK, dir_fd=current)
        finally:
            os.close(current)
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            os.close(descriptor)
            raise ReadError(f"{member} is no longer a plain file")
        os.set_blocking(descriptor, True)
        return descriptor

    def modified(self, member: str) -> dt.datetime:
        _check_name(member)
        if self._zip is not None:
            try:
                stamp = self._zip.getinfo(member).date_time
                # Zip times carry no zone; taken as UTC, as the agent writes them.
                return dt.datetime(*stamp, tzinfo=dt.timezone.utc)
            except (KeyError, ValueError):
                raise ReadError(f"{member} has no usable time in the bundle") from None
        try:
            descriptor = self._open_in_folder(member)
        except OSError as error:
            raise ReadError(f"{member} could not be read from the bundle: {error}") from None
        try:
            return dt.datetime.fromtimestamp(os.fstat(descriptor).st_mtime, dt.timezone.utc)
        finally:
            os.close(descriptor)

    def real_path(self, member: str) -> str:
        """A filesystem path holding the member: always a private copy in the bundle's own
        temporary folder, so SQLite never opens anything the bundle could point elsewhere."""
        _check_name(member)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="readyfloor-bundle-")
        root = Path(self._tmp.name).resolve()
        target = (root / member).resolve()
        if root not in target.parents:
            raise ReadError(f"{member} would be written outside the bundle's temporary folder")
        if not target.exists():
            data = self.read(member, MAX_MEMBER_BYTES)
            target.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL | O_NOFOLLOW: create a new file here, never write through something existing.
            flags = (
                os.O_WRONLY
                | os.O_CREAT
                | os.O_EXCL
                | getattr(os, "O_NOFOLLOW", 0)
                | getattr(os, "O_BINARY", 0)
            )
            try:
                descriptor = os.open(target, flags, 0o600)
            except OSError as error:
                raise ReadError(f"{member} could not be unpacked: {error}") from None
            with os.fdopen(descriptor, "wb") as sink:
                sink.write(data)
        return str(target)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


_HAS_DIR_FD = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")


class BundleHost(Host):
    """A seat as captured in a bundle. Reads nothing from the machine it runs on."""

    def __init__(self, location: str | os.PathLike[str], *, platform: str | None = None) -> None:
        self.location = Path(location)
        self._store = _Store(self.location)
        try:
            self.manifest = self._load_manifest()
            self._check_manifest_names()
        except ReadError:
            self._store.close()
            raise
        if platform is None:
            named = self.manifest.get("platform")
            platform = named if named in PLATFORMS else self._infer_platform()
        elif platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        self.platform = platform
        self._files: dict[str, dict[str, Any]] = {}
        for entry in self._entries("files"):
            if isinstance(entry.get("path"), str):
                self._files[_path_key(entry["path"], self.platform)] = entry
        self._members = {
            _member_key(member, self.platform): member
            for member in self._store.members
            if member.startswith("files/")
        }
        self._dirs = {
            _path_key(entry["path"], self.platform): entry
            for entry in self._entries("dirs")
            if isinstance(entry.get("path"), str)
        }
        exists = self.manifest.get("exists")
        self._exists = (
            {_path_key(path, self.platform): bool(flag) for path, flag in exists.items()}
            if isinstance(exists, dict)
            else {}
        )
        self._commands = [entry for entry in self._entries("commands") if isinstance(entry.get("argv"), list)]
        self._registry: dict[str, RegistryKey] | None = None
        self._registry_errors: dict[str, str] = {}
        self._damaged_exports: list[tuple[str, str]] = []
        self._managed: dict[str, bytes] | None = None
        self._managed_problems: list[str] = []

    # manifest

    def _load_manifest(self) -> dict[str, Any]:
        if MANIFEST not in self._store.members:
            return {}
        try:
            manifest = json.loads(self._store.read(MANIFEST, _MANIFEST_LIMIT).decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise ReadError(f"the bundle's manifest.json is not valid JSON: {error}") from None
        if not isinstance(manifest, dict):
            raise ReadError("the bundle's manifest.json is not a JSON object")
        return manifest

    def _check_manifest_names(self) -> None:
        """Every member the manifest points at must be a plain relative name: a manifest that
        names ``../x`` or ``/etc/x`` is refused, not quietly ignored."""
        for section, fields in (
            ("files", ("stored",)),
            ("commands", ("stdout", "stderr")),
            ("registry", ("stored",)),
        ):
            for number, entry in enumerate(self._entries(section)):
                for name in fields:
                    value = entry.get(name)
                    if isinstance(value, str):
                        self._store.check_named(value, f"{section}[{number}].{name}")

    def _entries(self, name: str) -> list[dict[str, Any]]:
        entries = self.manifest.get(name)
        return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []

    def _infer_platform(self) -> str:
        tops = {member.split("/")[1] for member in self._store.members if member.startswith("files/")}
        if any(member.startswith("registry/") for member in self._store.members) or any(
            len(top) == 1 for top in tops
        ):
            return "windows"
        if "Users" in tops or "Library" in tops or "Applications" in tops:
            return "macos"
        return "linux"

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> BundleHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # files

    def _file_entry(self, path: str) -> dict[str, Any] | None:
        return self._files.get(_path_key(path, self.platform))

    def _stored_member(self, path: str) -> str | None:
        entry = self._file_entry(path)
        if (
            entry is not None
            and isinstance(entry.get("stored"), str)
            and entry["stored"] in self._store.members
        ):
            return entry["stored"]
        return self._members.get(_path_key(path, self.platform))

    def _raise_recorded(self, entry: dict[str, Any] | None, what: str) -> None:
        if entry is None:
            return
        if isinstance(entry.get("error"), str):
            raise ReadError(entry["error"])
        if entry.get("missing"):
            raise NotFound(f"{what} does not exist")

    def read_bytes(self, path: str, *, limit: int = DEFAULT_LIMIT) -> bytes:
        entry = self._file_entry(path)
        if (entry is None or entry.get("missing")) and self._stored_member(path) is None:
            installed = self._from_profiles(path)
            if installed is not None:
                return installed
        self._raise_recorded(entry, path)
        member = self._stored_member(path)
        if member is None:
            raise NotFound(f"{path} does not exist (not in the bundle)")
        return self._store.read(member, limit)

    # configuration profiles

    def _from_profiles(self, path: str) -> bytes | None:
        """A managed-preferences plist that a ``.mobileconfig`` in the bundle installs. A Mac
        turns each profile payload into /Library/Managed Preferences/<domain>.plist; support
        staff often have only the profile, so the bundle does the same. A profile that cannot
        be read makes those paths unreadable, never absent."""
        if self.platform != "macos" or not path.startswith(mobileconfig.MANAGED_PREFERENCES + "/"):
            return None
        if self._managed is None:
            self._managed = {}
            user = self.console_user()
            for member in self._store.members:
                if not member.lower().endswith(".mobileconfig"):
                    continue
                try:
                    installed = mobileconfig.managed_preferences(
                        self._store.read(member, mobileconfig.PROFILE_LIMIT), user.name if user else None
                    )
                except ReadError as error:
                    self._managed_problems.append(f"{member}: {error.reason}")
                    continue
                for target, values in installed.items():
                    # Two profiles for one domain: the Mac merges them key by key.
                    merged = {**self._managed_values(target), **values}
                    self._managed[target] = plistlib.dumps(merged, fmt=plistlib.FMT_BINARY)
        if path in self._managed:
            return self._managed[path]
        if self._managed_problems:
            raise ReadError(
                "a configuration profile in the bundle could not be read: "
                + "; ".join(self._managed_problems)
            )
        return None

    def _managed_values(self, target: str) -> dict[str, Any]:
        existing = (self._managed or {}).get(target)
        return plistlib.loads(existing) if existing else {}

    def list_dir(self, path: str) -> list[str]:
        entry = self._dirs.get(_path_key(path, self.platform))
        if entry is not None:
            self._raise_recorded(entry, path)
            entries = entry.get("entries")
            if isinstance(entries, list):
                return sorted(str(name) for name in entries)
        prefix = _path_key(path, self.platform).rstrip("/") + "/"
        names: dict[str, str] = {}
        for key, member in self._members.items():
            if key.startswith(prefix):
                # Keep the original spelling of the child name, not its lower-cased key.
                depth = prefix.count("/")
                original = [_unescape_segment(part) for part in member.split("/")[1:]]
                names.setdefault(key[len(prefix) :].split("/", 1)[0], original[depth])
        if not names:
            raise NotFound(f"{path} does not exist (not in the bundle)")
        return sorted(names.values())

    def exists(self, path: str) -> bool:
        key = _path_key(path, self.platform)
        if key in self._exists:
            return self._exists[key]
        entry = self._files.get(key)
        if entry is not None and (entry.get("missing") or entry.get("error")):
            return bool(entry.get("error"))
        if self._stored_member(path) is not None:
            return True
        try:
            if self._from_profiles(path) is not None:
                return True
        except ReadError:
            return True
        prefix = key.rstrip("/") + "/"
        return key in self._dirs or any(member_key.startswith(prefix) for member_key in self._members)

    def modified(self, path: str) -> dt.datetime:
        """The time the manifest recorded, else the member's own time in the zip or folder (a
        bundle assembled by hand keeps the files' times when copied with them)."""
        entry = self._file_entry(path)
        self._raise_recorded(entry, path)
        recorded = entry.get("modified") if entry is not None else None
        if isinstance(recorded, str):
            try:
                moment = dt.datetime.fromisoformat(recorded.replace("Z", "+00:00"))
            except ValueError:
                raise ReadError(
                    f"the manifest's modified time of {path} is not a date: {recorded!r:.40}"
                ) from None
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
        member = self._stored_member(path)
        if member is None:
            raise NotFound(f"{path} does not exist (not in the bundle)")
        return self._store.modified(member)

    def sqlite_connect(self, path: str, *, timeout: float = 2.0) -> sqlite3.Connection:
        self._raise_recorded(self._file_entry(path), path)
        member = self._stored_member(path)
        if member is None:
            raise NotFound(f"{path} does not exist (not in the bundle)")
        real = self._store.real_path(member)
        try:
            # immutable: never create journal or lock files next to a fixture or in a temp copy.
            return connect_sqlite_readonly(real, timeout=timeout, immutable=True)
        except ReadError as error:
            # Name the file as it was on the seat, not where the bundle happens to be unpacked.
            raise ReadError(error.reason.replace(real, path)) from None

    # commands

    def run(
        self, argv: Sequence[str], *, timeout: float = 5.0, env: Mapping[str, str] | None = None
    ) -> CommandResult:
        wanted = command_key(argv)
        for entry in self._commands:
            if command_key(entry["argv"]) != wanted:
                continue
            if entry.get("missing"):
                raise NotFound(str(entry.get("error") or f"{argv[0]} is not installed"))
            if isinstance(entry.get("error"), str):
                raise ReadError(entry["error"])
            returncode = entry.get("returncode", 0)
            return CommandResult(
                returncode=returncode if isinstance(returncode, int) else 0,
                stdout=self._command_text(entry, "stdout"),
                stderr=self._command_text(entry, "stderr"),
            )
        raise NotFound(f"{argv[0]} is not installed (no output for {' '.join(wanted)} in the bundle)")

    def _command_text(self, entry: Mapping[str, Any], stream: str) -> str:
        member = entry.get(stream)
        if isinstance(member, str) and member in self._store.members:
            return self._store.read(member, 64_000_000).decode("utf-8", errors="replace")
        text = entry.get(f"{stream}_text")
        return text if isinstance(text, str) else ""

    # registry

    def _load_registry(self) -> dict[str, RegistryKey]:
        if self._registry is not None:
            return self._registry
        tree: dict[str, RegistryKey] = {}
        for member in self._store.members:
            if not (member.startswith("registry/") and member.lower().endswith(".reg")):
                continue
            try:
                data = self._store.read(member, 64_000_000)
            except ReadError as error:
                self._damaged_exports.append(("", error.reason))
                continue
            try:
                keys = parse_reg(data)
            except ReadError as error:
                self._damaged_exports.append((_first_key(data), f"{member}: {error.reason}"))
                continue
            for path, key in keys.items():
                existing = tree.get(path.lower())
                if existing is None:
                    tree[path.lower()] = key
                else:
                    existing.values.update(key.values)
        for entry in self._entries("registry"):
            if isinstance(entry.get("key"), str) and isinstance(entry.get("error"), str):
                try:
                    self._registry_errors[canonical_key(entry["key"]).lower()] = entry["error"]
                except ValueError:
                    continue
        self._registry = tree
        return tree

    def registry(self, key_path: str) -> RegistryKey | None:
        tree = self._load_registry()
        path = canonical_key(key_path)
        for candidate in self._aliases(path):
            lowered = candidate.lower()
            if lowered in self._registry_errors:
                raise ReadError(self._registry_errors[lowered])
            for prefix, reason in self._damaged_exports:
                if not prefix or lowered == prefix.lower() or lowered.startswith(prefix.lower() + "\\"):
                    raise ReadError(f"the registry export is damaged ({reason})")
            found = self._key_in(tree, candidate)
            if found is not None:
                return found
        return None

    def _aliases(self, path: str) -> list[str]:
        """A user's hive exported as HKCU on their machine answers for HKU\\<their sid> and back."""
        sid = self.user_sid()
        paths = [path]
        if sid:
            user_root = f"HKEY_USERS\\{sid}"
            if path.lower().startswith(user_root.lower()):
                paths.append("HKEY_CURRENT_USER" + path[len(user_root) :])
            elif path.startswith("HKEY_CURRENT_USER"):
                paths.append(user_root + path[len("HKEY_CURRENT_USER") :])
        return paths

    @staticmethod
    def _key_in(tree: dict[str, RegistryKey], path: str) -> RegistryKey | None:
        lowered = path.lower()
        children: list[str] = []
        for key_lower, key in tree.items():
            if key_lower.startswith(lowered + "\\"):
                child = key.path[len(path) + 1 :].split("\\", 1)[0]
                if child.lower() not in (name.lower() for name in children):
                    children.append(child)
        key = tree.get(lowered)
        if key is None and not children:
            return None
        # A key exported only through its descendants still exists, with no values we know of.
        return RegistryKey(
            path=key.path if key else path,
            values=dict(key.values) if key else {},
            subkeys=children,
        )

    # identity

    def env(self, name: str) -> str | None:
        values = self.manifest.get("env")
        if not isinstance(values, dict):
            return None
        if self.platform == "windows":
            for key, value in values.items():
                if key.upper() == name.upper():
                    return value if isinstance(value, str) else None
            return None
        value = values.get(name)
        return value if isinstance(value, str) else None

    def hostname(self) -> str:
        name = self.manifest.get("hostname")
        return name if isinstance(name, str) and name else self.location.stem

    def console_user(self) -> ConsoleUser | None:
        if "user" not in self.manifest:
            return self._user_from_files()
        user = self.manifest.get("user")
        if not isinstance(user, dict) or not user.get("name"):
            return None
        return ConsoleUser.from_json(user)

    def _user_from_files(self) -> ConsoleUser | None:
        """A hand-assembled bundle without a "user": the one home folder it holds files from,
        taken as collected by that person themselves (their HKCU, their session)."""
        homes = {"windows": ("c", "users"), "macos": ("users",), "linux": ("home",)}[self.platform]
        names = set()
        for key in self._members:
            parts = key.split("/")
            if len(parts) > len(homes) and tuple(part.lower() for part in parts[: len(homes)]) == homes:
                names.add(parts[len(homes)])
        names.discard("shared" if self.platform == "macos" else "public")
        if len(names) != 1:
            return None
        name = names.pop()
        if self.platform == "windows":
            original = next(m for k, m in self._members.items() if k.split("/")[2:3] == [name])
            name = _unescape_segment(original.split("/")[3])
            return ConsoleUser(name=name, home=f"C:\\Users\\{name}")
        return ConsoleUser(name=name, home=f"/{'Users' if self.platform == 'macos' else 'home'}/{name}")


def _first_key(data: bytes) -> str:
    """The first [key] of a damaged export: reads under it are unknown, not absent."""
    try:
        text = decode_reg(data)
    except RegFileError:
        return ""
    match = re.search(r"^\[([^\]\r\n]+)\]", text, re.MULTILINE)
    if not match:
        return ""
    try:
        return canonical_key(match.group(1))
    except ValueError:
        return ""


def open_bundle(path: str | os.PathLike[str], *, platform: str | None = None) -> BundleHost:
    """A bundle (zip, unzipped folder, or hand-assembled folder) as a Host. ``platform``
    overrides the manifest's (or, without one, the guess from the files)."""
    location = Path(path)
    if not location.exists():
        raise ReadError(f"{location} does not exist")
    return BundleHost(location, platform=platform)


# --- Recording --------------------------------------------------------------------------------


class RecordingHost(HostOverlay):
    """Reads through ``inner`` and remembers every answer, so it can be saved as a bundle."""

    def __init__(self, inner: Host) -> None:
        super().__init__(inner)
        self.files: dict[str, bytes | ReadError] = {}
        self.dirs: dict[str, list[str] | ReadError] = {}
        self.exists_seen: dict[str, bool] = {}
        self.mtimes: dict[str, str] = {}
        self.commands: list[tuple[list[str], CommandResult | ReadError]] = []
        self.keys: dict[str, RegistryKey | None | ReadError] = {}
        self.env_seen: dict[str, str | None] = {}
        self._user: tuple[ConsoleUser | None] | None = None
        self._hostname: str | None = None

    def read_bytes(self, path: str, *, limit: int = DEFAULT_LIMIT) -> bytes:
        try:
            data = self.inner.read_bytes(path, limit=limit)
        except ReadError as error:
            self.files.setdefault(path, error)
            raise
        self.files[path] = data
        return data

    def modified(self, path: str) -> dt.datetime:
        moment = self.inner.modified(path)
        self.mtimes[path] = moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return moment

    def list_dir(self, path: str) -> list[str]:
        try:
            entries = self.inner.list_dir(path)
        except ReadError as error:
            self.dirs[path] = error
            raise
        self.dirs[path] = list(entries)
        return entries

    def exists(self, path: str) -> bool:
        found = self.inner.exists(path)
        self.exists_seen[path] = found
        return found

    def run(
        self, argv: Sequence[str], *, timeout: float = 5.0, env: Mapping[str, str] | None = None
    ) -> CommandResult:
        try:
            result = self.inner.run(argv, timeout=timeout, env=env)
        except ReadError as error:
            self.commands.append((list(argv), error))
            raise
        self.commands.append((list(argv), result))
        return result

    def registry(self, key_path: str) -> RegistryKey | None:
        path = canonical_key(key_path)
        try:
            key = self.inner.registry(path)
        except ReadError as error:
            self.keys[path] = error
            raise
        self.keys[path] = key
        return key

    def sqlite_connect(self, path: str, *, timeout: float = 2.0) -> sqlite3.Connection:
        try:
            connection = self.inner.sqlite_connect(path, timeout=timeout)
        except ReadError as error:
            self.files[path] = error
            raise
        # A consistent single-file copy (the live file may have a write-ahead log beside it).
        with tempfile.TemporaryDirectory(prefix="readyfloor-sqlite-") as folder:
            copy_path = os.path.join(folder, "copy.db")
            copy = sqlite3.connect(copy_path)
            try:
                connection.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.Error as error:
                copy.close()
                connection.close()
                failure = ReadError(f"{path} cannot be read: {error}")
                self.files[path] = failure
                raise failure from None
            copy.close()
            self.files[path] = Path(copy_path).read_bytes()
        return connection

    def env(self, name: str) -> str | None:
        value = self.inner.env(name)
        self.env_seen[name] = value
        return value

    def hostname(self) -> str:
        if self._hostname is None:
            self._hostname = self.inner.hostname()
        return self._hostname

    def console_user(self) -> ConsoleUser | None:
        if self._user is None:
            self._user = (self.inner.console_user(),)
        return self._user[0]

    # saving

    def members(self, facts: Mapping[str, Any] | None = None) -> dict[str, bytes]:
        """The bundle's content: member name -> bytes, manifest included."""
        platform = self.platform
        out: dict[str, bytes] = {}
        files: list[dict[str, Any]] = []
        for path, outcome in self.files.items():
            if isinstance(outcome, NotFound):
                files.append({"path": path, "missing": True})
            elif isinstance(outcome, ReadError):
                files.append({"path": path, "error": outcome.reason})
            else:
                member = member_for(path, platform)
                out[member] = outcome
                entry = {"path": path, "stored": member}
                if path in self.mtimes:
                    entry["modified"] = self.mtimes[path]
                files.append(entry)
        dirs: list[dict[str, Any]] = []
        for path, listing in self.dirs.items():
            if isinstance(listing, NotFound):
                dirs.append({"path": path, "missing": True})
            elif isinstance(listing, ReadError):
                dirs.append({"path": path, "error": listing.reason})
            else:
                dirs.append({"path": path, "entries": listing})
        commands: list[dict[str, Any]] = []
        for number, (argv, outcome) in enumerate(self.commands, start=1):
            entry: dict[str, Any] = {"argv": argv}
            if isinstance(outcome, ReadError):
                entry["error"] = outcome.reason
                if isinstance(outcome, NotFound):
                    entry["missing"] = True
            else:
                stem = f"commands/{number:02d}-{_slug(command_key(argv))}"
                out[f"{stem}.stdout.txt"] = outcome.stdout.encode("utf-8")
                out[f"{stem}.stderr.txt"] = outcome.stderr.encode("utf-8")
                entry.update(
                    {
                        "returncode": outcome.returncode,
                        "stdout": f"{stem}.stdout.txt",
                        "stderr": f"{stem}.stderr.txt",
                    }
                )
            commands.append(entry)
        registry: list[dict[str, Any]] = []
        present = {path: key for path, key in self.keys.items() if isinstance(key, RegistryKey)}
        for number, (root, group) in enumerate(_export_groups(present), start=1):
            member = f"registry/{number:02d}-{_slug(tuple(root.split(chr(92))[-2:]))}.reg"
            out[member] = write_reg(group)
            registry.extend({"key": key.path, "stored": member} for key in group)
        for path, key in self.keys.items():
            if key is None:
                registry.append({"key": path, "missing": True})
            elif isinstance(key, ReadError):
                registry.append({"key": path, "error": key.reason})
        user = self.console_user()
        manifest = {
            "format_version": FORMAT_VERSION,
            "platform": platform,
            "hostname": self.hostname(),
            "captured_at": dt.datetime.now(dt.timezone.utc)
            .replace(microsecond=0)
            .isoformat()
            .replace("+00:00", "Z"),
            "agent_version": __version__,
            "user": user.to_json() if user else None,
            "files": files,
            "dirs": dirs,
            "exists": dict(self.exists_seen),
            "registry": registry,
            "commands": commands,
            "env": dict(self.env_seen),
        }
        out[MANIFEST] = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        if facts is not None:
            out[FACTS] = json.dumps(facts, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return out

    def save(
        self, dest: str | os.PathLike[str], facts: Mapping[str, Any] | None = None, *, folder: bool = False
    ) -> Path:
        target = Path(dest)
        members = self.members(facts)
        if folder:
            for name, data in members.items():
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in sorted(members.items()):
                archive.writestr(name, data)
        return target


def _slug(parts: Iterable[str]) -> str:
    text = "-".join(parts)
    text = re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-")
    return text[:48] or "item"


def _export_groups(keys: Mapping[str, RegistryKey]) -> list[tuple[str, list[RegistryKey]]]:
    """Keys grouped as ``reg export`` would write them: one file per top-most key read, each
    followed by its descendants, parents before children."""
    by_lower = {path.lower(): path for path in keys}
    roots = [
        path
        for path in keys
        if not any(path.lower().startswith(other + "\\") for other in by_lower if other != path.lower())
    ]
    groups: list[tuple[str, list[RegistryKey]]] = []
    for root in roots:
        prefix = root.lower() + "\\"
        members = [keys[root]] + [
            keys[path] for path in sorted(keys, key=str.lower) if path.lower().startswith(prefix)
        ]
        groups.append((root, members))
    return groups


def capture_bundle(dest_zip_path: str | os.PathLike[str], host: Host | None = None) -> Path:
    """Collect this seat's facts while recording every read, and save it all as a zip."""
    from .collectors import collect

    recorder = RecordingHost(host or live_host())
    facts = collect(recorder)
    return recorder.save(dest_zip_path, facts)

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
import posixpath
import re
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__
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


class _Store:
    """Members of a bundle: a zip file or a folder."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self._zip: zipfile.ZipFile | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if location.is_dir():
            self.members = sorted(
                str(path.relative_to(location)).replace(os.sep, "/")
                for path in location.rglob("*")
                if path.is_file()
            )
        else:
            try:
                self._zip = zipfile.ZipFile(location)
            except (OSError, zipfile.BadZipFile) as error:
                raise ReadError(f"{location} is not a bundle (zip or folder): {error}") from None
            self.members = sorted(info.filename for info in self._zip.infolist() if not info.is_dir())

    def read(self, member: str, limit: int) -> bytes:
        if self._zip is not None:
            info = self._zip.getinfo(member)
            if info.file_size > limit:
                raise ReadError(f"{member} is larger than {limit} bytes; not read")
            try:
                with self._zip.open(info) as handle:
                    data = handle.read(limit + 1)
            except (OSError, zipfile.BadZipFile, EOFError) as error:
                raise ReadError(f"{member} is damaged in the bundle: {error}") from None
            if len(data) > limit:
                raise ReadError(f"{member} is larger than {limit} bytes; not read")
            return data
        path = self.location / member
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as error:
            raise ReadError(f"{member} could not be read from the bundle: {error}") from None
        if len(data) > limit:
            raise ReadError(f"{member} is larger than {limit} bytes; not read")
        return data

    def real_path(self, member: str) -> str:
        """A filesystem path holding the member (zip members are extracted once)."""
        if self._zip is None:
            return str(self.location / member)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="readyfloor-bundle-")
        target = Path(self._tmp.name) / member
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with self._zip.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
            except (OSError, zipfile.BadZipFile, EOFError) as error:
                raise ReadError(f"{member} is damaged in the bundle: {error}") from None
        return str(target)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class BundleHost(Host):
    """A seat as captured in a bundle. Reads nothing from the machine it runs on."""

    def __init__(self, location: str | os.PathLike[str], *, platform: str | None = None) -> None:
        self.location = Path(location)
        self._store = _Store(self.location)
        self.manifest = self._load_manifest()
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
        self._raise_recorded(self._file_entry(path), path)
        member = self._stored_member(path)
        if member is None:
            raise NotFound(f"{path} does not exist (not in the bundle)")
        return self._store.read(member, limit)

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
        prefix = key.rstrip("/") + "/"
        return key in self._dirs or any(member_key.startswith(prefix) for member_key in self._members)

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
                files.append({"path": path, "stored": member})
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

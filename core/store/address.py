"""What names a project: a file (a path, or the folder that holds it) or a
PostgreSQL database (a `postgresql://` or `postgres://` address, or a libpq
service: `postgresql:///?service=lab`).

A password never travels in an address: it would end up in the settings'
recent projects, window titles and logs.  libpq reads it from its own
password file (~/.pgpass; %APPDATA%\\postgresql\\pgpass.conf on Windows) or
a service file, so an address that carries one is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from core.store.connection import resolve_project_path
from core.store.errors import StoreError

SERVER_SCHEMES = ("postgresql", "postgres")
PASSWORD_HELP = (
    "put the password in libpq's password file (~/.pgpass, or %APPDATA%\\postgresql\\pgpass.conf on Windows) "
    "or in a service file (postgresql:///?service=NAME), never in the address"
)


class AddressError(StoreError):
    """An address that cannot name a project (one carrying a password, say)."""


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """A project kept in a PostgreSQL database.  `conninfo` is what libpq
    is given (never a password); str() is the address for people."""

    conninfo: str
    database: str

    @property
    def name(self) -> str:
        """The database's name: what a title bar or a report's footer shows."""
        return self.database

    @property
    def stem(self) -> str:
        return self.database

    def __str__(self) -> str:
        return self.conninfo


ProjectLocation = Path | ServerAddress


def is_server_address(text: str | os.PathLike[str]) -> bool:
    """Whether `text` is a server address rather than a path."""
    if not isinstance(text, str):
        return False
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in SERVER_SCHEMES


def parse_server_address(text: str) -> ServerAddress:
    """A server address checked: refused, naming it with the password
    masked, where it carries a password."""
    parts = urlsplit(text)
    if parts.scheme.lower() not in SERVER_SCHEMES:
        raise AddressError(f"{text}: not a PostgreSQL address (it begins postgresql://)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is not None or any(key == "password" for key, _ in query):
        raise AddressError(f"{mask_password(text)}: the address holds a password; {PASSWORD_HELP}")
    database = unquote(parts.path.lstrip("/")) or dict(query).get("dbname", "") or dict(query).get("service", "")
    return ServerAddress(conninfo=text, database=database or "postgres")


def mask_password(text: str) -> str:
    """The address with any password replaced by ***, fit for a message."""
    parts = urlsplit(text)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    query = "&".join(
        f"{key}=***" if key == "password" else f"{key}={value}"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return parts._replace(netloc=netloc, query=query).geturl()


def locate_project(target: str | os.PathLike[str] | ServerAddress) -> ProjectLocation:
    """Where a project named by a path (the file or its folder) or an
    address is: AddressError where the address holds a password."""
    if isinstance(target, ServerAddress):
        return target
    if isinstance(target, str) and is_server_address(target):
        return parse_server_address(target)
    return resolve_project_path(target)


def describe_location(target: str | os.PathLike[str] | ServerAddress) -> str:
    """A project's name for a message or a recent-projects list, password masked."""
    if isinstance(target, ServerAddress):
        return str(target)
    if isinstance(target, str) and is_server_address(target):
        return mask_password(target)
    return os.fspath(target)

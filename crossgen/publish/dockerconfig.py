"""Registry credentials from the Docker client's configuration, read the way the ``docker`` CLI reads it.

The file is ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (what ``docker login``
writes). A registry's entry is ``auths[<host>]``; its ``auth`` is base64 of ``user:password``. Keys
written as URLs (``https://host/v1/``) count for their host, as the CLI and docker-py treat them.

Credential helpers are not supported: when ``credHelpers`` names the registry, or ``credsStore`` is
set and ``docker login`` recorded the registry (an ``auths`` entry without ``auth``), the password
is in a helper program this tool does not run -- :class:`CredentialsUnsupported` says so and what
to do. No entry at all means anonymous access (a registry that needs a login then answers 401).

::

    creds = credentials_for("registry.example.com:5000")   # Credentials or None
    creds.auth_config                                        # for dockerio.push (X-Registry-Auth)
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path

from crossgen.core.errors import DciError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


class CredentialsUnsupported(DciError):
    """The Docker configuration keeps the registry's credentials where this tool cannot read them."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    source: str  # the file they came from, for messages

    @property
    def auth_config(self) -> dict[str, str]:
        """What the Docker API takes for a push (docker-py's ``auth_config``)."""
        return {"username": self.username, "password": self.password}

    def basic(self) -> str:
        """The value of an ``Authorization: Basic`` header."""
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")

    def __repr__(self) -> str:  # never print a password
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def config_path(env: dict[str, str] | None = None) -> Path:
    """Where the docker CLI looks: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if env is None else env
    folder = env.get("DOCKER_CONFIG")
    return (Path(folder) if folder else Path.home() / ".docker") / "config.json"


def _host_of(key: str) -> str:
    """``https://host:5000/v1/`` -> ``host:5000`` (the CLI matches entries by host)."""
    text = key.strip()
    for scheme in ("http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    return text.split("/", 1)[0]


def _lookup(entries: dict, host: str):
    """The entry of ``host`` in ``auths``/``credHelpers`` (exact key first, then by host)."""
    if not isinstance(entries, dict):
        return None
    keys = [host] + ([DOCKER_HUB_KEY] if host in DOCKER_HUB_HOSTS else [])
    for key in keys:
        if key in entries:
            return entries[key]
    wanted = {_host_of(k) for k in keys}
    for key, value in entries.items():
        if _host_of(str(key)) in wanted:
            return value
    return None


def credentials_for(host: str, *, path: Path | None = None) -> Credentials | None:
    """The user name and password the Docker configuration holds for registry ``host`` (None: anonymous)."""
    path = path or config_path()
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DciError(str(path), f"not a readable Docker configuration ({type(exc).__name__}: {str(exc)[:120]})",
                       f"fix the file (or run `docker login {host}` again), or point DOCKER_CONFIG at another folder") from None
    if not isinstance(doc, dict):
        raise DciError(str(path), "not a Docker configuration (no JSON object)", f"fix the file, or run `docker login {host}` again")
    helper = _lookup(doc.get("credHelpers") or {}, host)
    if helper:
        raise CredentialsUnsupported(
            f"registry {host}", f"{path} names the credential helper docker-credential-{helper} for it, which this tool does not run",
            f"log in without the helper (remove {host} from credHelpers in {path}, then `docker login {host}`), "
            "or use a DOCKER_CONFIG folder whose config.json holds auths entries")
    entry = _lookup(doc.get("auths") or {}, host)
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise DciError(str(path), f"auths entry of {host} is not an object", f"run `docker login {host}` again")
    encoded = entry.get("auth")
    if not encoded:
        if entry.get("username") and entry.get("password") is not None:  # an older form docker-py reads too
            return Credentials(str(entry["username"]), str(entry["password"]), str(path))
        if doc.get("credsStore"):
            raise CredentialsUnsupported(
                f"registry {host}", f"its credentials are in the credential store docker-credential-{doc['credsStore']} "
                f"({path} sets credsStore), which this tool does not run",
                f"use a DOCKER_CONFIG folder without credsStore and `docker login {host}` there")
        if entry.get("identitytoken"):
            raise CredentialsUnsupported(f"registry {host}", f"{path} holds an identity token for it, which this tool does not use",
                                         f"log in with a user name and password (`docker login {host}`)")
        return None
    try:
        user, sep, password = base64.b64decode(str(encoded), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        user, sep, password = "", "", ""
    if not sep or not user:
        raise DciError(str(path), f"the auth of {host} is not base64 of user:password", f"run `docker login {host}` again")
    return Credentials(user, password, str(path))

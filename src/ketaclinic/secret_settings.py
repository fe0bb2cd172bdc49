"""Secrets the clinic is configured with (the backup key, a database URL with its password):
from the environment, or from a file the environment names, never from the repository.

``NAME`` holds the secret itself; ``NAME_FILE`` names a file holding it instead, which is how
Docker and Kubernetes secrets and systemd's ``LoadCredential=`` hand secrets over without putting
them in the process environment (where ``ps e`` and crash reports can show them). One trailing
newline is what editors and ``echo`` add, so trailing line ends are dropped; anything else in the
file is the secret as written.

Refusals (SecretUnreadable: the command line exits 2 with the message) never quote the secret:
a file that cannot be read or is not text, an empty file, one larger than any secret, or both
variables set (which one was meant is not ours to guess).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

FILE_SUFFIX = "_FILE"
# A key or a URL is well under this; a larger file (or /dev/zero) is not a secret.
LARGEST = 64 * 1024


class SecretUnreadable(Exception):
    """A secret named in the environment that cannot be used; the message says why."""


@dataclass(frozen=True)
class Secret:
    value: str
    # Where it came from, for messages about it: "NAME" or "NAME_FILE (path)".
    origin: str


def secret_setting(name: str, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The secret ``name`` from the environment (``os.environ`` unless given), or from the file
    ``name_FILE`` names; None when neither is set (an empty variable counts as not set)."""
    found = os.environ if environ is None else environ
    given = found.get(name, "")
    path = found.get(name + FILE_SUFFIX, "")
    if given and path:
        raise SecretUnreadable(f"{name} and {name}{FILE_SUFFIX} are both set: set only one of them")
    if path:
        origin = f"{name}{FILE_SUFFIX} ({path})"
        return Secret(_read(path, origin), origin)
    if given:
        return Secret(given, name)
    return None


def _read(path: str, origin: str) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read(LARGEST + 1)
    except OSError as exc:
        raise SecretUnreadable(
            f"{origin}: cannot read the file ({exc.strerror or exc.__class__.__name__})"
        ) from None
    if len(data) > LARGEST:
        raise SecretUnreadable(f"{origin}: the file is over {LARGEST // 1024} KiB, not a secret")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretUnreadable(f"{origin}: the file is not UTF-8 text") from None
    value = text.rstrip("\r\n")
    if not value:
        raise SecretUnreadable(f"{origin}: the file is empty")
    return value

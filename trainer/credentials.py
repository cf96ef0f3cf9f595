"""Credentials in addresses (`https://user:password@host/...`, `...?token=...`): found, refused and never repeated.

An experiment's config is recorded in its run and published on the site, so a password or token
written into an address there would be published too. Config strings carrying one are refused
(trainer/config.py), and every error message is passed through `redact` first, so the refusal
itself does not print the secret it refuses.
"""
from __future__ import annotations

import re

ADDRESS = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s]+")
"""an address with a scheme (`https://...`, `s3://...`), up to the next white space"""

USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/?#@]+@", re.I)
"""`scheme://<userinfo>@`: a user name, a user name and password, or a token in the user name's place"""

SECRET_PARAMETER = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*(?:token|secret|password|passwd|api[_-]?key|credential|signature)|key|sig|auth)=)[^&;#\s]+")
"""a query parameter that carries a secret: `?token=`, `&access_token=`, `?api_key=`, `?key=`, a presigned
address's `X-Amz-Signature=` / `X-Goog-Credential=` / `X-Amz-Security-Token=`, an Azure SAS `sig=`"""


SECRET_OPTION = re.compile(
    r"(?i)^--?(?:[a-z0-9]+[-_.])*(?:token|secret|password|passwd|pass|api[-_]?key|access[-_]?key|credentials?)(?:=|$)")
"""a command-line option whose value is a secret (`--hf-token X`, `--password=X`, `--api_key X`), not one that merely
contains such a word (`--tokenizer`, `--max-tokens`, `--token-file PATH`)"""


def in_arguments(arguments: list[str]) -> int | None:
    """The index of the first command-line argument that carries or names a credential, or None."""
    return next((i for i, a in enumerate(arguments) if SECRET_OPTION.match(a) or in_url(a)), None)


def in_url(text: str) -> bool:
    """True when `text` holds an address with credentials in it."""
    return any(USERINFO.search(a) or SECRET_PARAMETER.search(a) for a in ADDRESS.findall(text))


def redact(text: str) -> str:
    """`text` with the credentials of every address in it replaced by `***`."""
    return ADDRESS.sub(lambda m: SECRET_PARAMETER.sub(r"\1***", USERINFO.sub(r"\1***@", m.group(0))), text)

"""Credentials in addresses (`https://user:password@host/...`): found, refused and never repeated.

An experiment's config is recorded in its run and published on the site, so a password or token
written into an address there would be published too. Config strings carrying one are refused
(trainer/config.py), and every error message is passed through `redact` first, so the refusal
itself does not print the secret it refuses.
"""
from __future__ import annotations

import re

URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]+@")
"""`scheme://<userinfo>@`: a user name, a user name and password, or a token in the user name's place"""


def in_url(text: str) -> bool:
    """True when `text` holds an address with credentials in it."""
    return URL_USERINFO.search(text) is not None


def redact(text: str) -> str:
    """`text` with the credentials of every address in it replaced by `***`."""
    return URL_USERINFO.sub(r"\1***@", text)

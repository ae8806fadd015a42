"""The page and its scripts, served as files of this package: no build step."""

from __future__ import annotations

from importlib import resources

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
PAGE_FILES = ("index.html", "pulse-client.js", "dashboard.js", "dashboard.css")


def read_asset(name: str) -> tuple[bytes, str]:
    """The bytes and content type of one of ``PAGE_FILES``."""
    if name not in PAGE_FILES:
        raise KeyError(name)
    body = (resources.files("workers.gateway") / "page" / name).read_bytes()
    suffix = name[name.rfind(".") :]
    return body, CONTENT_TYPES[suffix]

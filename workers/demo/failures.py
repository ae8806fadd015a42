"""The demo's one error kind: what did not start or died, said in a sentence the user can act on."""

from __future__ import annotations


class DemoFailure(RuntimeError):
    """A part of the pipeline did not start or died; the message says which and why."""

"""``pulse``: the entry point. Subcommands are discovered from this package's ``*_cmd`` modules.

A subcommand module defines ``register(subparsers)``, which adds its parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit code) as a default.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import pkgutil
import sys
import traceback
from collections.abc import Callable, Sequence

import structlog
from pydantic import ValidationError

import workers.cli as cli_package
from workers.cli.arguments import connection_environment
from workers.cli.exit_status import ExitStatus
from workers.kafka.access import KafkaAccessError
from workers.settings import SettingError

Handler = Callable[[argparse.Namespace], int]
SECRET_WORDS = ("KEY", "TOKEN", "PASSWORD", "SECRET", "URL")
DISTRIBUTION = "realtime-pulse"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulse",
        description="Realtime Pulse: Supabase row changes to live, per-site dashboard updates.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda m: m.name):
        if module_info.name.endswith("_cmd"):
            module = importlib.import_module(f"workers.cli.{module_info.name}")
            module.register(subparsers)
    return parser


def installed_version() -> str:
    """The version of the installed distribution, the one ``pip`` and the image labels name."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        # Run from a source tree that was never installed: say so rather than fail every command.
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        with connection_environment(args):
            return handler(args)
    except ValidationError as exc:
        # Settings come from the environment; name the variable, not a traceback.
        for error in exc.errors():
            variable = ".".join(str(part) for part in error["loc"]) or exc.title
            secret = any(word in variable.upper() for word in SECRET_WORDS)
            shown = "" if secret else f" (got {error.get('input')!r})"
            report_failure(f"{variable}: {error['msg']}{shown}")
        return ExitStatus.FAILED
    except (SettingError, KafkaAccessError) as exc:
        report_failure(str(exc))
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        print("pulse: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except Exception:
        # A bug, not bad input: keep the traceback, but never exit 1, which means "KPIs differ".
        traceback.print_exc()
        return ExitStatus.FAILED


def report_failure(message: str) -> None:
    """One line on stderr: a log record once the command set up logging (JSON lines stay JSON),
    else plain text."""
    if structlog.is_configured():
        structlog.get_logger("pulse.cli").error("command failed", error=message)
    else:
        print(f"error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

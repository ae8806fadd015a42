"""The Apache Kafka broker's jars, resolved once from Maven Central into a cache outside the repo.

``pom.xml`` beside this file names the release. Maven resolves it with its own settings (the only
route to Maven Central on our machines), into ``$PULSE_CACHE_DIR`` (default
``~/.cache/realtime-pulse``), one directory per release; later starts reuse it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

POM = Path(__file__).with_name("pom.xml")


class KafkaUnavailable(RuntimeError):
    """Java or Maven is missing, or Maven could not resolve the broker."""


def kafka_version() -> str:
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if found is None:
        raise KafkaUnavailable(f"{POM} names no kafka.version")
    return found.group(1)


def cache_root() -> Path:
    explicit = os.environ.get("PULSE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "realtime-pulse"


def java_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_available() -> bool:
    return java_binary() is not None


def require_java() -> str:
    java = java_binary()
    if java is None:
        raise KafkaUnavailable(
            "Apache Kafka needs Java 17+ (and Maven to fetch it once): install them "
            "(Debian: apt-get install openjdk-17-jre-headless maven), or point "
            "KAFKA_BOOTSTRAP_SERVERS at a running broker"
        )
    return java


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kafka_classpath(say: Callable[[str], None] = print) -> Path:
    """The directory of the broker's jars, resolving them first if this release has none yet."""
    version = kafka_version()
    target = cache_root() / f"kafka-{version}"
    complete = target / ".complete"
    if complete.exists():
        return target / "lib"
    # Two processes starting at once (a test run beside a demo) resolve it only once.
    with _locked(cache_root() / f".kafka-{version}.lock"):
        if complete.exists():
            return target / "lib"
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaUnavailable(
                f"Apache Kafka {version} is not in {target} yet, and fetching it needs Maven: "
                "install it (Debian: apt-get install maven), or point KAFKA_BOOTSTRAP_SERVERS "
                "at a running broker"
            )
        say(f"fetching Apache Kafka {version} from Maven Central into {target} (once) ...")
        staging = Path(tempfile.mkdtemp(prefix=f"kafka-{version}-", dir=cache_root()))
        try:
            result = subprocess.run(
                [
                    mvn,
                    "-B",
                    "-q",
                    "-f",
                    str(POM),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={staging / 'lib'}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                detail = (result.stdout + result.stderr).strip().splitlines()[-20:]
                raise KafkaUnavailable(
                    f"Maven could not resolve Apache Kafka {version}:\n" + "\n".join(detail)
                )
            jars = len(list((staging / "lib").glob("*.jar")))
            (staging / ".complete").write_text(f"{jars} jars\n")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        say(f"  {jars} jars in {target / 'lib'}")
    return target / "lib"

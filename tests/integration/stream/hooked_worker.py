"""``pulse worker`` with two test hooks, for the liveness test: ``python -m`` this module.

- While the file ``PULSE_TEST_PAUSE_FILE`` exists, the worker's consumer fetches none of its
  source partitions (Faust's own ``pause_partitions``, applied again on every tick because
  Faust's flow control may resume a partition); once it is gone they are resumed.
- When the file ``PULSE_TEST_BLOCK_FILE`` appears, the event loop is blocked with
  ``time.sleep`` for the seconds written in it (once; the file is removed).

Everything else is ``pulse worker`` as shipped: the hooks wrap ``create_app`` and nothing more.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import workers.stream.app as stream_app
from workers.cli.worker_cmd import serve

PAUSE = Path(os.environ["PULSE_TEST_PAUSE_FILE"])
BLOCK = Path(os.environ["PULSE_TEST_BLOCK_FILE"])
shipped_create_app = stream_app.create_app


def create_app_with_hooks(*args: Any, **kwargs: Any) -> Any:
    app, runner = shipped_create_app(*args, **kwargs)
    source = runner.kafka.changes_topic
    paused: set[Any] = set()

    def apply_hooks() -> None:
        consumer: Any = app.consumer
        if PAUSE.exists():
            tps = {tp for tp in consumer.assignment() if tp.topic == source}
            consumer.pause_partitions(tps)
            paused.update(tps)
        elif paused:
            consumer.resume_partitions(set(paused))
            paused.clear()
        if BLOCK.exists():
            seconds = float(BLOCK.read_text())
            BLOCK.unlink()
            time.sleep(seconds)

    async def hooks() -> None:
        apply_hooks()

    app.timer(0.2, name="pulse_test_hooks")(hooks)
    return app, runner


if __name__ == "__main__":
    stream_app.create_app = create_app_with_hooks
    sys.exit(serve())

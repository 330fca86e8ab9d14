"""``gnomon worker`` whose Celery consumer fails once, as Celery's own errors make it (its
first event loop raises at once): ``python failing_worker.py [gnomon worker options]``."""

from __future__ import annotations

import sys
from typing import Any

from celery.worker import loops

from gnomon.cli.main import main

_real_loop = loops.asynloop
_started: list[int] = []


def _failing_once(*args: Any, **kwargs: Any) -> Any:
    _started.append(1)
    if len(_started) == 1:
        raise RuntimeError("the consumer's event loop failed (injected by the test)")
    return _real_loop(*args, **kwargs)


if __name__ == "__main__":
    loops.asynloop = _failing_once
    sys.argv = ["gnomon", "worker", *sys.argv[1:]]
    main()

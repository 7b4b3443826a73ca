"""A tiny worker: process the *.job files in $QUEUE_DIR, oldest first, until SIGTERM."""

import os
import signal
import threading
from pathlib import Path

QUEUE = Path(os.environ.get("QUEUE_DIR", "var/queue"))
POLL = float(os.environ.get("WORKER_POLL", "1"))
# Set by SIGTERM or SIGINT: finish the job in hand, then leave (a graceful stop loses no work).
stopping = threading.Event()


def stop(signum: int, frame: object) -> None:
    stopping.set()


def main() -> None:
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"worker ready, watching {QUEUE}")
    while not stopping.is_set():
        jobs = sorted(QUEUE.glob("*.job"))
        for job in jobs:
            text = job.read_text(encoding="utf-8").strip()
            job.unlink()
            print(f"done {job.name}: {text}")
            if stopping.is_set():
                break
        if not jobs:
            stopping.wait(POLL)
    print("worker stopped")


if __name__ == "__main__":
    main()

"""A tiny worker: process the *.job files in $QUEUE_DIR, oldest first, until SIGTERM."""

import os
import signal
import time
from pathlib import Path

QUEUE = Path(os.environ.get("QUEUE_DIR", "var/queue"))
POLL = float(os.environ.get("WORKER_POLL", "1"))
stopping = False


def stop(signum: int, frame: object) -> None:
    # Finish the job in hand, then leave: a graceful stop loses no work.
    global stopping
    stopping = True


def main() -> None:
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"worker ready, watching {QUEUE}")
    while not stopping:
        jobs = sorted(QUEUE.glob("*.job"))
        for job in jobs:
            text = job.read_text(encoding="utf-8").strip()
            job.unlink()
            print(f"done {job.name}: {text}")
            if stopping:
                break
        if not jobs:
            time.sleep(POLL)
    print("worker stopped")


if __name__ == "__main__":
    main()

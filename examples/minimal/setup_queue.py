"""One-off setup: create the queue directory and put a first job in it."""

import os
from pathlib import Path

queue = Path(os.environ.get("QUEUE_DIR", "var/queue"))
queue.mkdir(parents=True, exist_ok=True)
(queue / "0001-welcome.job").write_text("welcome\n", encoding="utf-8")
print(f"queue ready in {queue}")

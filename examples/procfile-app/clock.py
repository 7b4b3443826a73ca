"""Print $GREETING $TICKS times, a second apart, then wait to be stopped."""

import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
for tick in range(1, int(os.environ.get("TICKS", "3")) + 1):
    print(f"tick {tick}: {os.environ.get('GREETING', 'hello')}", flush=True)
    time.sleep(1)
signal.pause()

"""Health of one process instance: when to probe, what a result means, and the real probes.

The decisions (:class:`Health`) are pure: the supervisor feeds them the monotonic time and
probe results and acts on the transitions they return. The probes themselves
(:class:`ThreadProber`) run off the event loop, so a slow or hung probe never delays output,
signals or other probes:

- ``http`` and ``tcp`` probes run in a short-lived daemon thread each, with socket timeouts;
  the result comes back through the event loop's wake-up (``post``);
- ``cmd`` probes are child processes in their own session, started without waiting; their
  exit reaches the supervisor through ``SIGCHLD`` like any other child's. Where there is no
  SIGCHLD (Windows) a daemon thread waits for each one and posts its exit instead.

Whatever a probe does, the supervisor gives up on it at ``timeout`` (a hard deadline on the
monotonic clock) and ignores a late answer.

Semantics (Docker's and Kubernetes' where they agree):

- until the first success, probes run every ``min(interval, STARTUP_INTERVAL)`` so readiness
  is noticed quickly, but these quick probes can only succeed early: a failure counts only
  when its probe started after ``start_period`` (the *startup phase*: liveness is suspended)
  and at least ``interval`` after the start or the previous counted failure, so a slow
  starter is judged at the pace the user chose, never faster;
- ``retries`` consecutive counted failures make the instance *unhealthy*; one success makes it
  healthy again;
- ``notify`` checks run no probe: ``READY=1`` from the instance's main process makes it
  healthy; with a ``start_period``, no ``READY=1`` by its end makes it unhealthy.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from prodserver.config.model import HealthCheck
from prodserver.hostport import split_host_port
from prodserver.records import Protocol

#: probe cadence before the first success (capped by the check's own ``interval``)
STARTUP_INTERVAL = 0.5
#: bytes of an HTTP body read to look for ``expect``
MAX_BODY = 64 * 1024

#: what a probe reports: (token, healthy, detail for messages)
Done = Callable[[int, bool, str], None]


class Transition(enum.Enum):
    """A change of health that the supervisor acts on."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


class Health:
    """The health bookkeeping of one run of one instance (a restart starts a new one)."""

    def __init__(self, check: HealthCheck, started_at: float) -> None:
        self.check = check
        self.started_at = started_at
        #: end of the startup phase (failures before it do not count)
        self.startup_ends = started_at + check.start_period
        #: "starting", "healthy" or "unhealthy"
        self.status = "starting"
        self.ever_healthy = False
        self.first_success = False
        #: consecutive failures that counted
        self.failures = 0
        #: when the last counted failure's probe started (before the first success)
        self._last_counted = started_at
        self.last_detail = ""
        #: monotonic time of the next probe (None: no probes, as for ``notify``)
        self.next_at: float | None = None
        if check.kind != "notify":
            self.next_at = started_at + min(check.interval, STARTUP_INTERVAL)
        #: the probe in flight: its token, when it started and its hard deadline
        self.token = 0
        self.probe_started = 0.0
        self.deadline: float | None = None
        #: seconds from spawn to the first healthy result
        self.ready_after: float | None = None
        #: the watchdog's deadline: a ``WATCHDOG=1`` must come before it (the first one may
        #: take the start period, when that is longer)
        self.watchdog_at: float | None = None
        if check.watchdog:
            self.watchdog_at = started_at + max(check.watchdog, check.start_period)

    @property
    def in_flight(self) -> bool:
        return self.token != 0

    def due(self, now: float) -> bool:
        """Whether a probe should start now."""
        return not self.in_flight and self.next_at is not None and now >= self.next_at

    def begin(self, token: int, now: float) -> None:
        """A probe with ``token`` started at ``now``."""
        self.token = token
        self.probe_started = now
        self.deadline = now + self.check.timeout

    def next_deadline(self) -> float | None:
        """When this instance's health needs attention next."""
        if self.in_flight:
            return self.deadline
        times = [
            t for t in (self.next_at, self._notify_deadline(), self.watchdog_at) if t is not None
        ]
        return min(times) if times else None

    def rearm(self, now: float) -> None:
        """A ``WATCHDOG=1``: the next one must come within the watchdog period."""
        if self.check.watchdog:
            self.watchdog_at = now + self.check.watchdog

    def watchdog_missed(self, now: float) -> bool:
        """The process did not send ``WATCHDOG=1`` in time."""
        return self.watchdog_at is not None and now >= self.watchdog_at

    def _notify_deadline(self) -> float | None:
        if self.check.kind == "notify" and not self.ever_healthy and self.check.start_period:
            return self.startup_ends if self.status == "starting" else None
        return None

    def finish(self, now: float, ok: bool, detail: str) -> Transition | None:
        """The probe in flight ended; returns the transition it caused, if any."""
        started = self.probe_started
        self.token = 0
        self.deadline = None
        self.last_detail = detail
        if self.next_at is not None:
            fast = not self.ever_healthy and not ok
            step = min(self.check.interval, STARTUP_INTERVAL) if fast else self.check.interval
            self.next_at = now + step
        if ok:
            return self.succeeded(now)
        if not self.ever_healthy:
            if started < self.startup_ends or started - self._last_counted < self.check.interval:
                return None
            self._last_counted = started
        self.failures += 1
        if self.failures >= self.check.retries and self.status != "unhealthy":
            self.status = "unhealthy"
            return Transition.UNHEALTHY
        return None

    def succeeded(self, now: float) -> Transition | None:
        """A success (a probe, or ``READY=1``)."""
        self.failures = 0
        if self.status == "healthy":
            return None
        self.status = "healthy"
        #: this success is the run's first (``healthy after``), not a recovery (``again``)
        self.first_success = not self.ever_healthy
        if not self.ever_healthy:
            self.ever_healthy = True
            self.ready_after = now - self.started_at
        return Transition.HEALTHY

    def expire(self, now: float) -> Transition | None:
        """Time passed with nothing in flight: a ``notify`` check whose startup ran out."""
        deadline = self._notify_deadline()
        if deadline is not None and now >= deadline:
            self.status = "unhealthy"
            self.last_detail = f"no READY=1 within {self.check.start_period:g}s"
            return Transition.UNHEALTHY
        return None


def describe(check: HealthCheck) -> str:
    """``http http://127.0.0.1:8000/healthz`` for messages."""
    target = check.target if isinstance(check.target, str) else " ".join(check.target)
    return f"{check.kind} {target}".rstrip()


# -- real probes -------------------------------------------------------------------------


class Prober(Protocol):
    """Runs probes without blocking; the supervisor's seam (faked in tests)."""

    def start(
        self, token: int, check: HealthCheck, env: Mapping[str, str], cwd: Path, done: Done
    ) -> None:
        """Start a probe; ``done(token, ok, detail)`` is called on the loop when it ends."""

    def cancel(self, token: int) -> None:
        """Forget a probe (timed out or its instance is gone); kill it if it is a process."""

    def reaped(self, pid: int, returncode: int) -> bool:
        """A child exited: True when it was a ``cmd`` probe (its result is delivered)."""

    def pids(self) -> set[int]:
        """Process ids of ``cmd`` probes still running (not strays)."""


def http_probe(check: HealthCheck) -> tuple[bool, str]:
    """GET the URL; healthy when the status is in range and the body holds ``expect``."""
    import http.client
    import urllib.parse  # with ipaddress: only a run with an HTTP probe pays for it

    url = str(check.target)
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + check.timeout
    host = parts.hostname or "127.0.0.1"
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        # imported here: ``ssl`` costs milliseconds on every ``up``, and most probes are HTTP
        import ssl

        # A health endpoint on localhost rarely has a certificate for that name; like
        # Kubernetes' HTTPS probes, this checks that it answers, not who it is.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, parts.port, timeout=check.timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=check.timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    began = time.monotonic()
    try:
        conn.request(
            "GET", path, headers={"User-Agent": "prodserver-health", "Connection": "close"}
        )
        response = conn.getresponse()
        body = b""
        if check.expect is not None:
            while len(body) < MAX_BODY:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False, f"timed out after {check.timeout:g}s reading the body"
                if conn.sock is not None:
                    conn.sock.settimeout(remaining)
                chunk = response.read1(MAX_BODY - len(body))
                if not chunk:
                    break
                body += chunk
    except (OSError, http.client.HTTPException) as exc:
        return False, _os_reason(exc, check.timeout)
    finally:
        conn.close()
    took = (time.monotonic() - began) * 1000
    low, high = check.status
    if not low <= response.status <= high:
        return False, f"HTTP {response.status} (expected {low}-{high})"
    if check.expect is not None and check.expect not in body.decode("utf-8", "replace"):
        return False, f"HTTP {response.status} but the body does not contain {check.expect!r}"
    return True, f"HTTP {response.status} in {took:.0f} ms"


def tcp_probe(check: HealthCheck) -> tuple[bool, str]:
    """Connect to ``host:port``; healthy when the connection is accepted."""
    host, port = split_host_port(str(check.target))
    began = time.monotonic()
    try:
        import socket  # only for a tcp check, on its probe's thread

        with socket.create_connection((host, port), timeout=check.timeout):
            pass
    except OSError as exc:
        return False, _os_reason(exc, check.timeout)
    return True, f"{host}:{port} accepted in {(time.monotonic() - began) * 1000:.0f} ms"


def _os_reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return f"timed out after {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


class ThreadProber:
    """The real :class:`Prober`: threads for sockets, child processes for commands.

    ``post`` hands a callable to the event loop's thread (and wakes it); results are only
    ever applied there, so the supervisor stays single-threaded.
    """

    def __init__(
        self, post: Callable[[Callable[[], None]], None], *, reap_by_thread: bool | None = None
    ) -> None:
        self._post = post
        #: a thread waits for each ``cmd`` probe (no SIGCHLD to tell the supervisor)
        self._reap_by_thread = (
            not hasattr(signal, "SIGCHLD") if reap_by_thread is None else reap_by_thread
        )
        self._live: set[int] = set()
        #: cmd probes: pid -> (token, popen, done)
        self._children: dict[int, tuple[int, subprocess.Popen[bytes], Done]] = {}

    def start(
        self, token: int, check: HealthCheck, env: Mapping[str, str], cwd: Path, done: Done
    ) -> None:
        self._live.add(token)
        if check.kind == "cmd":
            self._start_cmd(token, check, env, cwd, done)
            return
        probe = http_probe if check.kind == "http" else tcp_probe

        def run() -> None:
            try:
                ok, detail = probe(check)
            except Exception as exc:  # a bug in a probe must not leave the check hanging
                ok, detail = False, f"probe error: {exc}"
            if token in self._live:  # a cancelled probe has nobody to tell
                self._post(lambda: self._deliver(token, ok, detail, done))

        threading.Thread(target=run, name=f"prodserver-probe-{token}", daemon=True).start()

    def _start_cmd(
        self, token: int, check: HealthCheck, env: Mapping[str, str], cwd: Path, done: Done
    ) -> None:
        argv = list(check.target) if not isinstance(check.target, str) else [check.target]
        try:
            popen = subprocess.Popen(
                argv,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            detail = f"cannot run {argv[0]}: {exc.strerror or exc}"
            self._post(lambda: self._deliver(token, False, detail, done))
            return
        self._children[popen.pid] = (token, popen, done)
        if self._reap_by_thread:
            threading.Thread(target=self._wait, args=(popen,), daemon=True).start()

    def _wait(self, popen: subprocess.Popen[bytes]) -> None:
        """On a thread: wait for a ``cmd`` probe, and hand its exit to the loop."""
        code = popen.wait()

        def exited() -> None:
            self.reaped(popen.pid, code)

        self._post(exited)

    def _deliver(self, token: int, ok: bool, detail: str, done: Done) -> None:
        if token in self._live:
            self._live.discard(token)
            done(token, ok, detail)

    def cancel(self, token: int) -> None:
        self._live.discard(token)
        for pid, (tok, popen, _done) in self._children.items():
            if tok == token:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if hasattr(os, "killpg"):
                        os.killpg(pid, signal.SIGKILL)  # its whole session
                    else:
                        popen.kill()  # Windows: TerminateProcess

    def reaped(self, pid: int, returncode: int) -> bool:
        entry = self._children.pop(pid, None)
        if entry is None:
            return False
        token, popen, done = entry
        # the supervisor reaped it: tell Popen, so that it neither waits nor warns
        popen.returncode = returncode
        if returncode == 0:
            self._deliver(token, True, "exit code 0", done)
        else:
            self._deliver(token, False, f"exit code {returncode}", done)
        return True

    def pids(self) -> set[int]:
        return set(self._children)

    def close(self) -> None:
        """Kill every ``cmd`` probe still running (the run is over)."""
        for token in list(self._live):
            self.cancel(token)

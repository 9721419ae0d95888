"""Several SMTP connections at once for a campaign batch: a few threads, each owning one connection of
Django's email backend, take built messages from a queue and send them. The threads touch no database
(the caller claims, composes and records outcomes in its own thread and transaction), so a worker keeps
one database connection and the tests' transactions see everything. Why threads: most of one message's
time is waiting for the server's answers (MAIL, RCPT, DATA); with several conversations in flight the
waits overlap, and building the next message runs while others wait.

`shared_pool()` is this process's pool, kept between campaign batches: consecutive batch tasks on one
worker process reuse its threads and their open connections instead of paying a TLS handshake and a
login per connection and batch (both sides ~3 ms of CPU each). A connection is closed after
CRM_EMAIL_KEEP_OPEN_SECONDS without a message, after an error that may have left it unusable, when the
email settings change, and when the process ends (atexit, Celery's worker_process_shutdown). One that
sat idle for more than NOOP_AFTER seconds is checked with NOOP before the next message. A kept-open
connection the server dropped meanwhile is opened again and the message sent on it, but only when
smtplib had not begun the message's content (the same test as the "unknown" outcome of
nurture.email.classify), so a message can never go out twice."""

from __future__ import annotations

import atexit
import os
import queue
import smtplib
import ssl
import threading
import time
from concurrent.futures import Future

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from nurture import email as mail

NOOP_AFTER = 2.0  # seconds: a connection idle longer is checked with NOOP before it is used again
SERVICE_CLOSING = 421  # the server says it closes the connection
# How a connection the server closed while it sat idle fails (a timeout is not one: the server is slow, not gone).
DROPPED = (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


class PoolClosed(RuntimeError):
    pass


class SmtpPool:
    """`send(email)` returns a Future: the message was accepted (result) or the exception that refused it.
    Use as a context manager for one batch (leaving it waits for every submitted message and closes the
    connections), or keep it (`shared_pool()`): `keep_open` seconds without a message close a thread's
    connection (None: never; it is closed with the pool)."""

    def __init__(self, size: int, *, keep_open: float | None = None):
        self._work: queue.Queue = queue.Queue()
        self._keep_open = keep_open
        self._closed = False
        self._count = threading.Lock()
        self.opened = self.closed = 0  # connections opened and closed so far (tests, the bench)
        self._threads = [threading.Thread(target=self._run, name=f"smtp-{n}", daemon=True) for n in range(max(size, 1))]
        for thread in self._threads:
            thread.start()

    def send(self, email: EmailMessage) -> Future:
        if self._closed:
            raise PoolClosed("this SMTP pool is closed")
        future: Future = Future()
        self._work.put((email, future))
        return future

    def __len__(self) -> int:
        return len(self._threads)

    def close(self) -> None:
        """Send QUIT on every connection once the messages already submitted are sent, and end the threads."""
        if self._closed:
            return
        self._closed = True
        for _thread in self._threads:
            self._work.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    def __enter__(self) -> SmtpPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _next(self, connected: bool):
        """The next message; when the connection stays idle for keep_open seconds, close it and wait on."""
        if not connected or self._keep_open is None:
            return self._work.get()
        try:
            return self._work.get(timeout=self._keep_open)
        except queue.Empty:
            return _IDLE

    def _run(self) -> None:
        try:
            connection = get_connection()
        except Exception as exc:  # noqa: BLE001 - a backend that cannot load: every message gets the error, none waits
            while (item := self._work.get()) is not None:
                item[1].set_exception(exc)
            return
        used = 0.0  # when this thread's connection last answered
        try:
            while (item := self._next(_is_open(connection))) is not None:
                if item is _IDLE:
                    self._close(connection)
                    continue
                email, future = item
                try:
                    reused = _is_open(connection)
                    if reused and time.monotonic() - used > NOOP_AFTER and not _alive(connection):
                        self._close(connection)
                        reused = False
                    if not reused:
                        self._open(connection)
                    try:
                        mail.send_open(connection, email)
                    except DROPPED as exc:
                        # A kept-open connection the server had dropped: nothing of this message went out
                        # unless smtplib was inside DATA, so only then is it not sent again.
                        if not reused or mail.went_out(exc):
                            raise
                        self._close(connection)
                        self._open(connection)
                        mail.send_open(connection, email)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, who classifies it
                    if not isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException)) or (
                            isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == SERVICE_CLOSING):
                        self._close(connection)  # refused, dropped or timed out: the next message connects again
                    future.set_exception(exc)
                else:
                    used = time.monotonic()
                    future.set_result(True)
        finally:
            self._close(connection)

    def _open(self, connection) -> None:
        try:
            connection.open()  # kept open: send_messages closes only a connection it opened itself
        finally:
            if _is_open(connection):  # also when STARTTLS or the login failed: it is closed and counted then
                with self._count:
                    self.opened += 1

    def _close(self, connection) -> None:
        if _is_open(connection):
            _close(connection)
            with self._count:
                self.closed += 1


_IDLE = object()


def _is_open(connection) -> bool:
    return getattr(connection, "connection", None) is not None


def _alive(connection) -> bool:
    smtp = connection.connection
    if not isinstance(smtp, smtplib.SMTP):
        return True  # another backend (locmem, file): nothing to check
    try:
        return smtp.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - QUIT to a server that stopped answering; the socket is dropped either way
        pass
    if getattr(connection, "connection", None) is not None:  # Django's close() leaves it set if QUIT raised oddly
        connection.connection = None


# --- This process's pool, kept between batches --------------------------------------------

_lock = threading.Lock()
_shared: dict = {"key": None, "pool": None}


def _email_key(size: int) -> tuple:
    """What a kept connection depends on: a change (a test's settings, another server) makes a new pool."""
    names = ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS",
             "EMAIL_USE_SSL", "EMAIL_TIMEOUT", "EMAIL_SSL_CERTFILE", "EMAIL_SSL_KEYFILE", "EMAIL_FILE_PATH")
    return (os.getpid(), size, settings.CRM_EMAIL_KEEP_OPEN_SECONDS, os.environ.get("SSL_CERT_FILE"),
            *(getattr(settings, name, None) for name in names))


def shared_pool(size: int) -> SmtpPool:
    """This process's pool of `size` connections to the configured server, started on first use."""
    key = _email_key(size)
    with _lock:
        pool, old = _shared["pool"], None
        if pool is None or _shared["key"] != key:
            old = pool if _shared["key"] and _shared["key"][0] == os.getpid() else None  # not a parent's, after fork
            pool = SmtpPool(size, keep_open=settings.CRM_EMAIL_KEEP_OPEN_SECONDS)
            _shared.update(key=key, pool=pool)
    if old is not None:
        old.close()
    return pool


def close_shared() -> None:
    """Close this process's kept connections (QUIT): at exit, on Celery's worker_process_shutdown."""
    with _lock:
        pool, key = _shared["pool"], _shared["key"]
        _shared.update(key=None, pool=None)
    if pool is not None and key and key[0] == os.getpid():
        pool.close()


def _forget_after_fork() -> None:
    _shared.update(key=None, pool=None)  # the parent's threads do not exist in the child; its sockets stay the parent's


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_shared)

"""Several SMTP connections at once for a campaign batch: a few threads, each owning one connection of
Django's email backend, take built messages from a queue and send them. The threads touch no database
(the caller claims, composes and records outcomes in its own thread and transaction), so a worker keeps
one database connection and the tests' transactions see everything. Why threads: most of one message's
time is waiting for the server's answers (MAIL, RCPT, DATA); with several conversations in flight the
waits overlap, and building the next message runs while others wait."""

from __future__ import annotations

import queue
import smtplib
import threading
from concurrent.futures import Future

from django.core.mail import EmailMessage, get_connection

from nurture import email as mail


class SmtpPool:
    """`send(email)` returns a Future: the message was accepted (result) or the exception that refused it.
    Use as a context manager; leaving it waits for every submitted message and closes the connections."""

    def __init__(self, size: int):
        self._work: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._run, name=f"smtp-{n}", daemon=True) for n in range(max(size, 1))]
        for thread in self._threads:
            thread.start()

    def send(self, email: EmailMessage) -> Future:
        future: Future = Future()
        self._work.put((email, future))
        return future

    def __len__(self) -> int:
        return len(self._threads)

    def close(self) -> None:
        for _thread in self._threads:
            self._work.put(None)
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> SmtpPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        connection = get_connection()
        try:
            while (item := self._work.get()) is not None:
                email, future = item
                try:
                    if getattr(connection, "connection", None) is None:
                        connection.open()  # kept open: send_messages closes only a connection it opened itself
                    mail.send_open(connection, email)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, who classifies it
                    if not isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException)):
                        _close(connection)  # refused, dropped or timed out: the next message connects again
                    future.set_exception(exc)
                else:
                    future.set_result(True)
        finally:
            _close(connection)


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - QUIT to a server that stopped answering; the socket is dropped either way
        pass

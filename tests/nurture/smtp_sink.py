"""A real SMTP server for the tests, run as its own process (aiosmtpd): every accepted message
lands in a Maildir the tests read. Recipients decide the answer, like a real server would:
  *bounce*@...   550 5.1.1 at RCPT (a permanent failure: the message bounces)
  *tempfail*@... 451 4.3.0 at RCPT (a temporary failure: try again later)

    python tests/nurture/smtp_sink.py PORT MAILDIR|- [SECONDS_PER_MESSAGE]

The optional delay makes each DATA answer slow, like a loaded server (the fault tests kill a
worker mid-send with it). With SINK_TLS_CERT and SINK_TLS_KEY (PEM files) in the environment it
requires STARTTLS, as submission servers do; with SINK_AUTH=user:password as well it requires AUTH
(PLAIN or LOGIN, after STARTTLS) before MAIL, as every production relay on port 587 does (the bench's
campaign figure, bench/fig_campaign.py).
"""

import asyncio
import logging
import mailbox
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, path: str, delay: float = 0.0):
        self.box = mailbox.Maildir(path, create=True) if path != "-" else None  # "-": accept and discard (the bench)
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "bounce" in address:
            return "550 5.1.1 No such user here"
        if "tempfail" in address:
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.box is not None:
            self.box.add(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    tls = {}
    if os.environ.get("SINK_TLS_CERT"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(os.environ["SINK_TLS_CERT"], os.environ["SINK_TLS_KEY"])
        tls = {"tls_context": context, "require_starttls": True}
        if os.environ.get("SINK_AUTH"):
            login, _, password = os.environ["SINK_AUTH"].encode().partition(b":")

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (login, password)
                return AuthResult(success=ok)

            tls.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
            # aiosmtpd sets its own deprecated Session.login_data on every AUTH and logs a warning each time.
            logging.getLogger("mail.log").addFilter(lambda record: "login_data" not in record.getMessage())
    controller = Controller(Sink(path, delay), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

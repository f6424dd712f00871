"""The sandbox mail provider of the embedded mode: keeps messages, refuses some
recipients as a real server would."""

from __future__ import annotations

from email.message import Message

from workers.providers.mail.errors import MailRefused


class SandboxMailer:
    """Keeps messages (in the database, by the caller) and sends nothing.

    Like a real server it refuses some recipients, so the bounce path can be tried in
    the embedded mode (as payment sandboxes have their failing test cards): domains
    that cannot exist (RFC 2606 ``.invalid``) and mailboxes whose name starts with
    ``inconnu`` (« utilisateur inconnu »).
    """

    delivered_status = "stored"

    def send(self, message: Message) -> None:
        for address in message.get_all("To", []):
            local, _, domain = str(address).strip(" <>").lower().rpartition("@")
            if not local or domain.endswith(".invalid"):
                raise MailRefused(f"550 5.1.2 <{address}>: domaine inexistant")
            if local.startswith("inconnu"):
                raise MailRefused(f"550 5.1.1 <{address}>: utilisateur inconnu")

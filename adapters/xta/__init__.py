"""XTA 2 transport (versions 3 and 5): Sender and Source over a transport provider account.

`XtaTransport` is registered as transport "xta" in `adapters.ALIASES` (one Sender for all
XTA partners); `XtaAdapter` is one account (Sender + Source); `mailboxes(config)` lists the
Sources to poll; `XtaSettings` is the checked form of a partner's `options`. See docs/xta.md.

Imports: like every adapter, the ground floor only (ports, errors, config, xml, files,
resources).
"""
from .accounts import XtaTransport, mailboxes
from .adapter import XtaAdapter
from .order import Attachment, Party
from .settings import XtaSettings

__all__ = ["XtaAdapter", "XtaTransport", "XtaSettings", "Attachment", "Party", "mailboxes"]

"""XTA 2 transport (versions 3 and 5): Sender and Source over a transport provider account.

`XtaAdapter` is registered as transport "xta" in `adapters.ALIASES`; `XtaSettings` is the
checked form of a partner's `options` table. See docs/xta.md.
"""
from .adapter import XtaAdapter
from .order import Attachment, Party
from .settings import XtaSettings

__all__ = ["XtaAdapter", "XtaSettings", "Attachment", "Party"]

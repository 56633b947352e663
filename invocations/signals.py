"""What the domain announces to the apps built on it (the console), which ``invocations`` never imports.

``function_updated``: ``$LATEST``'s code or configuration changed and the change committed.
Arguments: ``function`` (a ``Function``), ``caller`` (the ``access.Caller`` who changed it),
``change`` (``"code"`` or ``"configuration"``). Receivers run in the request that made the change,
after its commit; they must be quick (queue work, do not do it).
"""

from __future__ import annotations

from django.dispatch import Signal

function_updated = Signal()

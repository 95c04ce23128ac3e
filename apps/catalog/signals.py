"""Signals of the catalog, sent after the transaction that caused them commits."""

from django.dispatch import Signal

#: Sent with ``kind`` ("tool", "resource", "prompt", "server", "gateway") and ``ids`` (list of str)
#: whenever entities of that kind are created, changed or removed (e.g. for MCP list_changed).
catalog_changed = Signal()

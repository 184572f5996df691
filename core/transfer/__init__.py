"""Import and export: the CSV column model, streamed export, and what plugins add.

Plugins use ``TransferColumns`` and ``ExportFormat`` from ``crmkit.core``; the column
model (``columns.py``) is shared by export and import.
"""

__all__: list[str] = []

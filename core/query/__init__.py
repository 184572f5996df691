"""List queries: parameters, filters, sorting and keyset cursors, compiled to SQL."""

from .params import ListParams, parse_list_params

__all__ = ["ListParams", "parse_list_params"]

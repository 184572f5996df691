"""The ``vcf`` export format of individuals: vCard 4.0, one card per person."""

from __future__ import annotations

from typing import Any

from crmkit.core import ExportFormat

from .vcard import VCARD_MEDIA_TYPE, to_vcard

__all__ = ["VCF"]


def _render(records: list[dict[str, Any]]) -> str:
    return "".join(to_vcard(record, version="4.0") for record in records)


VCF = ExportFormat(
    entity="individual",
    name="vcf",
    media_type=VCARD_MEDIA_TYPE,
    render=_render,
    description="vCard 4.0, one card per individual",
)

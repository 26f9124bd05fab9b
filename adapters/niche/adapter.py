"""The Niche RMS police adapter: `<OccurrenceEnquiry>` XML to canonical notifications."""

from __future__ import annotations

from pathlib import Path

from adapters.police_xml import PoliceXmlAdapter, load_default_mapping

HERE = Path(__file__).parent
XSD_PATH = HERE / "niche.xsd"
MAPPING_PATH = HERE / "mapping.yaml"
DEFAULT_MAPPING = load_default_mapping(MAPPING_PATH)


class NicheAdapter(PoliceXmlAdapter):
    """Reads Niche occurrence enquiries (format and variants: adapters/niche/README.md)."""

    name = "niche"

    def __init__(self) -> None:
        super().__init__(DEFAULT_MAPPING, XSD_PATH)

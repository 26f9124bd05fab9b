"""The COMPACT police adapter: `<MissingPersonNotification>` XML to canonical notifications."""

from __future__ import annotations

from pathlib import Path

from adapters.police_xml import PoliceXmlAdapter, load_default_mapping

HERE = Path(__file__).parent
XSD_PATH = HERE / "compact.xsd"
MAPPING_PATH = HERE / "mapping.yaml"
DEFAULT_MAPPING = load_default_mapping(MAPPING_PATH)


class CompactAdapter(PoliceXmlAdapter):
    """Reads COMPACT missing person notifications (format: adapters/compact/README.md)."""

    name = "compact"

    def __init__(self) -> None:
        super().__init__(DEFAULT_MAPPING, XSD_PATH)

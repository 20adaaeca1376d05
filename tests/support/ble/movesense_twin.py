"""A Movesense sensor as seen in a scan: its name and GATT SensorData Protocol (GSP) service.

balancelab recognises Movesense advertisements but has no live driver for GSP, so this twin
only advertises and offers the GSP characteristics (write commands, notify data); it never
streams. It exists to show that `scan` lists such a sensor as not streamable and that
`stream` refuses it with a clear reason.
"""

from __future__ import annotations

from typing import Any

from bumble import data_types
from bumble.core import UUID
from bumble.gatt import Characteristic, CharacteristicValue, Service

from balancelab.devices import movesense
from tests.support.ble.backend import VirtualAir
from tests.support.ble.twin import READABLE, WRITEABLE, P, Twin, read_not_permitted


class MovesenseTwin(Twin):
    """A Movesense (advertised name "Movesense <serial>", GSP service UUID)."""

    rate_hz = 52.0
    samples_per_packet = 1

    def __init__(self, air: VirtualAir, name: str = "Movesense 233830000123", **kwargs: Any):
        super().__init__(air, name, **kwargs)

    def services(self) -> list[Service]:
        command = Characteristic(
            movesense.WRITE_UUID, P.WRITE | P.WRITE_WITHOUT_RESPONSE, WRITEABLE, b""
        )
        data: Characteristic[Any] = Characteristic(
            movesense.NOTIFY_UUID, P.NOTIFY, READABLE, CharacteristicValue(read=read_not_permitted)
        )
        return [Service(movesense.SERVICE_UUID, [command, data])]

    def advertising_data(self) -> list[Any]:
        return [
            self.flags(),
            data_types.CompleteListOf128BitServiceUUIDs([UUID(movesense.SERVICE_UUID)]),
            data_types.CompleteLocalName(self.name),
        ]

    async def send_packet(self, device_first_s: float) -> None:
        return None

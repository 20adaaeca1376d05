"""Virtual BLE for tests: a bleak backend over bumble's in-process LocalLink, virtual twins of
the sensors balancelab reads (with fault injection) and an event loop on virtual time."""

from tests.support.ble.backend import BumbleClient, BumbleScanner, VirtualAir
from tests.support.ble.diy_twin import DiyTwin
from tests.support.ble.twin import SentLog, Twin
from tests.support.ble.virtual_time import (
    VirtualTimeDeadlockError,
    VirtualTimeLoop,
    WallClockBudgetError,
)

__all__ = [
    "BumbleClient",
    "BumbleScanner",
    "DiyTwin",
    "SentLog",
    "Twin",
    "VirtualAir",
    "VirtualTimeDeadlockError",
    "VirtualTimeLoop",
    "WallClockBudgetError",
]

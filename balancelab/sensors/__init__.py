"""Live acquisition (asyncio): sources of samples, the ring buffer, the recorder.

`balancelab.sensors.ble.gatt` is the only module in balancelab that imports bleak.
"""

"""Live acquisition (asyncio): sources of samples, the ring buffer, the recorder.

`balancelab.sensors.ble` is the only module in balancelab that imports bleak.
"""

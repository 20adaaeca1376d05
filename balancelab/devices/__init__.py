"""Pure decoders: bytes from each supported device into SI samples; clock mapping. No bleak.

- `common`: `Decoded` (SI samples + device time/sequence), `DeviceKind`,
  `detect_kind(name, service_uuids)`, units, the service and standard GATT UUIDs. A bad
  packet raises `balancelab.errors.DecodeError(reason)`.
- `diy`: balancelab IMU profile v1 (firmware_notes/diy_profile.md).
- `polar`: Polar PMD (H10, Verity Sense) control point and data frames.
- `witmotion`: WT901BLE `55 61` frames and FF AA commands.
- `phyphox`: phyphox remote-access queries and JSON answers.
- `movesense`: Movesense GSP `/Meas/...` payloads.
- `timing`: `unwrap`/`Unwrapper`, `SequenceTracker`, `ClockMapper`, `HostTimestamper`.
- `stream_state`: a live stream's state across packets: `Timeline` (increasing times, lost
  samples as NaN rows), `gap_rows`, `AccGyroMerger` (Polar ACC + GYRO into one stream).
"""

"""Pure decoders: bytes from each supported device into SI samples; clock mapping. No bleak.

- `common`: `Decoded` (SI samples + device time/sequence), `DecodeError(reason)`, `DeviceKind`,
  `detect_kind(name, service_uuids)`.
- `diy`: balancelab IMU profile v1 (firmware_notes/diy_profile.md).
- `polar`: Polar PMD (H10, Verity Sense) control point and data frames.
- `witmotion`: WT901BLE `55 61` frames and FF AA commands.
- `phyphox`: phyphox remote-access queries and JSON answers.
- `movesense`: Movesense GSP `/Meas/...` payloads.
- `timing`: `unwrap`/`Unwrapper`, `SequenceTracker`, `ClockMapper`, `HostTimestamper`.
"""

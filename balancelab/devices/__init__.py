"""Pure decoders: bytes from each supported device into SI samples; clock mapping. No bleak."""

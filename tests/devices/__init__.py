"""Tests of the pure device decoders and timing."""

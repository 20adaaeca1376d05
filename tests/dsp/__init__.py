"""Tests of the pure measure functions in balancelab.dsp."""

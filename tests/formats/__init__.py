"""Tests of balancelab.formats."""

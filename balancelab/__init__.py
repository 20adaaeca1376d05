"""balancelab: open balance assessment (sway, time to stabilization, asymmetry)."""

__version__ = "0.1.0"

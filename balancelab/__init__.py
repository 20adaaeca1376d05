"""balancelab: open balance assessment (sway, time to stabilization, asymmetry)."""

from importlib.metadata import PackageNotFoundError, version

# The version is written in one place, pyproject.toml; the installed metadata carries it here.
try:
    __version__ = version("balancelab")
except PackageNotFoundError:  # a source tree that was never installed (pip install -e .)
    __version__ = "0+unknown"

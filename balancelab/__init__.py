"""balancelab: open balance assessment (sway, time to stabilization, asymmetry)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    __version__: str


def __getattr__(name: str) -> str:
    # The version is written in one place, pyproject.toml; the installed metadata carries it
    # here. Read on first use: importlib.metadata costs more than `balancelab --help` itself.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        found = version("balancelab")
    except PackageNotFoundError:  # a source tree that was never installed (pip install -e .)
        found = "0+unknown"
    globals()["__version__"] = found
    return found

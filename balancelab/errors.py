"""Domain errors. Each carries `advice`: what a person can do about it."""

from __future__ import annotations


class BalancelabError(Exception):
    """Base of every error balancelab raises on purpose.

    `message` says what happened (and where: file, line, device); `advice` says what to do.
    """

    default_advice = "See the message above; run with --debug for technical details."

    def __init__(self, message: str, advice: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice or self.default_advice

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(BalancelabError, ValueError):
    """A parameter has a value outside what is allowed."""

    default_advice = "Check the value against the allowed ones named in the message."


class FormatError(BalancelabError):
    """A file could not be read: truncated, foreign, malformed or with unknown units."""

    default_advice = (
        "Check that the file is the kind the importer expects and that it was copied whole."
    )

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        advice: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message, advice)
        self.path = path
        self.line = line


class DatasetError(BalancelabError):
    """A dataset folder is missing, not a balancelab/BIDS dataset, or cannot be written."""

    default_advice = "Check the folder path; a new dataset is created on the first recording."


class SimulationError(BalancelabError):
    """A simulator scenario or parameter cannot be run."""

    default_advice = "Run `balancelab simulate --list` to see the scenarios and their parameters."

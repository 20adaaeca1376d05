"""Every domain error carries a code a program can act on, and advice a person can act on."""

from __future__ import annotations

from balancelab import errors
from balancelab.errors import BalancelabError, LinkLostError, Trouble


def _subclasses(cls: type[BalancelabError]) -> list[type[BalancelabError]]:
    return [cls] + [s for sub in cls.__subclasses__() for s in _subclasses(sub)]


def test_each_domain_error_has_its_own_code_and_advice() -> None:
    defined = [c for c in _subclasses(BalancelabError) if c.__module__ == errors.__name__]
    assert len(defined) >= 11  # base, argument, file, dataset, simulation, packet, Bluetooth …
    codes = [c.code for c in defined]
    assert len(set(codes)) == len(codes), codes
    assert all(c.default_advice.endswith(".") for c in defined)


def test_an_error_as_trouble_keeps_code_message_and_advice_apart() -> None:
    advice = LinkLostError.default_advice
    trouble = LinkLostError("the link to board dropped").trouble
    assert trouble == Trouble("link_lost", "the link to board dropped", advice)
    assert str(trouble) == f"the link to board dropped — {advice}"
    assert str(Trouble("paused", "the measurement is paused")) == "the measurement is paused"

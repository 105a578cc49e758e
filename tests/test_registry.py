import pytest

from dabench.errors import DabenchError
from dabench.methods import METHODS
from dabench.registry import Registry


def test_did_you_mean():
    with pytest.raises(DabenchError, match="unknown method 'revgard'. Did you mean 'revgrad'"):
        METHODS.get("revgard")


def test_no_suggestion_when_nothing_is_close():
    with pytest.raises(DabenchError) as info:
        METHODS.get("zzzzzz")
    assert "Did you mean" not in str(info.value)
    assert "revgrad, source-only, target-only" in str(info.value)


def test_duplicate_registration_fails():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("a", 2)
    assert reg.get("a") == 1 and reg.names() == ["a"]

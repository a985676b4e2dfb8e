"""The checks a shard name and an endpoint list pass before a strategy or console uses them."""

from __future__ import annotations

import pytest

from aftm.domain import limits
from aftm.errors import InvalidInput
from aftm.settings import MAX_ENDPOINTS, check_endpoints


@pytest.mark.parametrize("name", ["s1", "a", "0", "east-1", "a" * limits.MAX_SHARD_LENGTH])
def test_a_shard_name_of_lowercase_letters_digits_and_dashes_passes(name: str) -> None:
    assert limits.check_shard(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "-s1", "S1", "s.1", "s_1", "s 1", "s1\n", "a" * (limits.MAX_SHARD_LENGTH + 1), 7, None],
)
def test_any_other_shard_name_is_refused_naming_the_field(name: object) -> None:
    with pytest.raises(InvalidInput, match="field 'shard'"):
        limits.check_shard(name)


def test_one_endpoint_is_a_list_of_one() -> None:
    assert check_endpoints("tcp://127.0.0.1:5558", binding=False) == ("tcp://127.0.0.1:5558",)


def test_several_endpoints_keep_their_order_without_blanks() -> None:
    listed = check_endpoints(" tcp://b:2 ,tcp://a:1", binding=False)

    assert listed == ("tcp://b:2", "tcp://a:1")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "endpoint 1 of 1 is empty"),
        ("tcp://a:1,", "endpoint 2 of 2 is empty"),
        (",tcp://a:1", "endpoint 1 of 2 is empty"),
        ("tcp://a:1, ,tcp://b:2", "endpoint 2 of 3 is empty"),
        ("tcp://a:1,tcp://a:1", "listed twice"),
        ("tcp://a:1,tcp://*:2", "concrete host and port"),
        ("tcp://a:1,udp://b:2", "is not an endpoint"),
        (",".join(f"tcp://h:{port}" for port in range(1, 10_001)), "10000 endpoints"),
        (",".join(f"tcp://h:{port}" for port in range(1, MAX_ENDPOINTS + 2)), "at most"),
    ],
)
def test_a_bad_list_is_refused_saying_why(value: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_endpoints(value, binding=False)


def test_the_longest_list_allowed_passes() -> None:
    value = ",".join(f"tcp://h:{port}" for port in range(1, MAX_ENDPOINTS + 1))

    assert len(check_endpoints(value, binding=False)) == MAX_ENDPOINTS

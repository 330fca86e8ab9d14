"""Dynamic mapping: how many instances a mapped task has, and each one's argument values."""

from __future__ import annotations

from typing import Any

import pytest

from gnomon.semantics.mapping import MappingError, input_length, total_length, values_at


def test_one_input_gives_instance_i_its_element_i() -> None:
    assert [values_at({"x": [10, 20, 30]}, i) for i in range(3)] == [
        {"x": 10},
        {"x": 20},
        {"x": 30},
    ]


def test_several_inputs_give_their_cross_product_with_the_last_varying_fastest() -> None:
    inputs = {"x": [1, 2], "y": ["a", "b", "c"]}
    assert [values_at(inputs, i) for i in range(6)] == [
        {"x": 1, "y": "a"},
        {"x": 1, "y": "b"},
        {"x": 1, "y": "c"},
        {"x": 2, "y": "a"},
        {"x": 2, "y": "b"},
        {"x": 2, "y": "c"},
    ]


def test_the_cross_product_follows_argument_order_not_name_order() -> None:
    inputs = {"z": [1, 2], "a": ["p", "q"]}
    assert values_at(inputs, 1) == {"z": 1, "a": "q"}


def test_a_dict_input_contributes_key_value_pairs_in_insertion_order() -> None:
    inputs = {"pair": {"b": 2, "a": 1}}
    assert [values_at(inputs, i) for i in range(2)] == [{"pair": ("b", 2)}, {"pair": ("a", 1)}]


def test_a_tuple_input_is_mapped_like_a_list() -> None:
    assert values_at({"x": (7, 8)}, 1) == {"x": 8}


@pytest.mark.parametrize("map_index", [3, 99, -1], ids=["one past the end", "far past", "negative"])
def test_a_map_index_out_of_range_raises_index_error_naming_the_range(map_index: int) -> None:
    with pytest.raises(IndexError, match=rf"map index {map_index} out of range 0\.\.2"):
        values_at({"x": [1, 2, 3]}, map_index)


def test_an_empty_input_leaves_no_valid_map_index() -> None:
    with pytest.raises(IndexError):
        values_at({"x": [1, 2], "y": []}, 0)


@pytest.mark.parametrize(
    ("value", "length"),
    [([1, 2, 3], 3), ((1, 2), 2), ({"a": 1}, 1), ([], 0)],
    ids=["list", "tuple", "dict", "empty list"],
)
def test_input_length_of_a_list_tuple_or_dict_is_its_length(value: Any, length: int) -> None:
    assert input_length("x", value) == length


@pytest.mark.parametrize("value", ["abc", 3, None, {1, 2}], ids=["str", "int", "None", "set"])
def test_input_length_of_anything_else_raises_mapping_error(value: Any) -> None:
    with pytest.raises(MappingError):
        input_length("x", value)


def test_an_input_length_error_names_the_argument_and_the_type_it_got() -> None:
    with pytest.raises(MappingError, match=r"expand argument 'files' .* got str"):
        input_length("files", "not-a-list")


def test_a_mapping_error_is_a_value_error() -> None:
    assert issubclass(MappingError, ValueError)


def test_total_length_is_the_product_of_the_input_lengths() -> None:
    assert total_length([2, 3, 4]) == 24


def test_total_length_of_any_empty_input_is_zero() -> None:
    assert total_length([2, 0, 4]) == 0


def test_total_length_of_no_inputs_is_zero() -> None:
    assert total_length([]) == 0

"""The cart holds only what the store has: a sold-out item, or more than is left, is refused."""

from __future__ import annotations

import pytest

from ponder.commerce.shop import Shop
from ponder.errors import UserError

from .conftest import ANN


def test_the_cart_refuses_a_sold_out_item_and_more_than_is_left(shop: Shop) -> None:
    with pytest.raises(UserError, match="sold out"):
        shop.carts.add(ANN, "shirt-l")  # stock 0
    shop.carts.add(ANN, "esp-40", 2)  # the 2 left
    with pytest.raises(UserError, match="only 2 left"):
        shop.carts.add(ANN, "esp-40")
    assert [(line.variant_id, line.quantity) for line in shop.carts.lines(ANN)] == [("esp-40", 2)]
    shop.carts.add(ANN, "umb", 7)  # stock not tracked: no limit but the cart's

"""Commerce: a store's catalog, customers, carts, orders, payments and recommendations (issue 8).

- model.py: StoreData and its parts, the plain shape every store format loads into
"""

from __future__ import annotations

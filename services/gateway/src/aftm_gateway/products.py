"""Moved to the shared library (aftm.domain.products): the executor weighs lots by point value."""

from aftm.domain.products import DEFAULT_SYMBOLS, PRODUCTS, Product, product_of

__all__ = ["DEFAULT_SYMBOLS", "PRODUCTS", "Product", "product_of"]

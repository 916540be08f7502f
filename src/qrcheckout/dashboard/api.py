"""The back office at ``/dashboard``: its router, with every page module's routes on it."""

from __future__ import annotations

from qrcheckout.dashboard import (
    catalog_pages,
    order_pages,
    sales_pages,
    settings_pages,
    sign_in,
    webhook_pages,
)
from qrcheckout.dashboard.pages import router

# Imported for the routes they add to ``router``.
PAGES = (sign_in, sales_pages, order_pages, catalog_pages, webhook_pages, settings_pages)

__all__ = ["PAGES", "router"]

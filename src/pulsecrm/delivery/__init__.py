"""Delivery: sending to the vendor, and applying the receipts it calls back with."""

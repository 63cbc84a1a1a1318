"""Customers and their orders: tables, ingestion writes, aggregates and reads."""

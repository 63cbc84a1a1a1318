"""Ingestion: validate, queue (Redis Stream) or write inline, and the batch writer behind both."""

"""Campaigns: a message to a frozen audience, delivered asynchronously, with stored counters."""

"""Outcomes: what campaigns earned. Holdouts, exact last-touch attribution, lift, the report."""

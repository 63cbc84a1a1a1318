"""Segments: a typed, versioned rule language over customers, compiled to SQL."""

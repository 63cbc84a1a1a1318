"""Who may call: API keys (hashed, scoped, revocable) and users."""

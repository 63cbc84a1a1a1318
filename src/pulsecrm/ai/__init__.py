"""The AI assistant: plain words to segment rules, and message variants for a campaign goal."""

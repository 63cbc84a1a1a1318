"""Dead letters: what a stream consumer set aside, kept with its error for a human to replay."""

"""The mock SMS/e-mail vendor: a separate service that accepts messages and calls back receipts.

It behaves like a real vendor so the delivery pipeline can be exercised end to end: batched,
idempotent sends; delivered/failed outcomes after a random delay; signed receipts posted in
batches to the webhook with retries; and injectable 500s, 429s and slow answers.

It speaks only the documented wire format and imports nothing of Pulse's outside this package
(its own message and receipt schemas, signing, body limit and error bodies), so a real
provider's sandbox could take its place; tests/vendor/test_independence.py holds it to that.
"""

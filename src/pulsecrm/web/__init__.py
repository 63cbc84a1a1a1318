"""The server-rendered web app: sign-in, pages, and the static files they use.

Pages call the domain services directly, or the JSON API from the browser; no business logic
lives here.
"""

"""`python -m pulsecrm` is the `pulsecrm` command."""

from pulsecrm.cli import app

app()

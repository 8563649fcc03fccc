"""The enterprise portal (``/enterprise/…``): signed-in enterprise accounts only."""

"""The bureau console (``/bureau/…``): bureau accounts inside their jurisdiction, and admins."""

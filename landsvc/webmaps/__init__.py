"""HTML map pages (/maps/...): thin routes that call the services and render with ``maps``."""

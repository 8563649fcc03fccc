"""水、电、气不合理加价: official utility tariffs and tenants' complaints of mark-ups."""

"""Request-facing primitives: errors and errcodes, auth, ratelimiting, constants."""

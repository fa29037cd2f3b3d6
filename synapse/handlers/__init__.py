"""Business logic per area. Handlers take the HomeServer and pull the stores,
writers and other handlers they need from it; they never read the process
role and never run SQL."""

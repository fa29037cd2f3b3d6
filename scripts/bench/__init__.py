"""Homeserver benchmark, driven purely over HTTP (see scripts/benchmark.py).

Map of the package:
  matrix_client  minimal asyncio/aiohttp Matrix client: shared-secret
                 registration, login, rooms, send, /sync; every call timed
  procstat       CPU-seconds and RSS of processes read from /proc, discovery
                 of the homeserver's process tree and PostgreSQL processes,
                 and the CPU everything else used meanwhile (noise)
  stats          percentiles and summaries of latency samples
  scenarios      the measured phases: population setup, concurrent senders,
                 /sync wake-up latency, initial sync with fresh devices,
                 sends into one large room
  ephemeral      /sync under typing, receipt, account-data and to-device
                 traffic: delivery latency per kind
  report         the human-readable table printed at the end
  summarize      medians over several result files, as a Markdown table
"""

# Sourced by the benchmark runners: the config both servers get on top of
# their generated one, so the two targets are configured alike.
# bench_common_overrides prints registration, reporting and rate-limit keys
# (rate limits out of the way: the benchmark measures the server, not them).
bench_common_overrides() {
    local big='{per_second: 100000, burst_count: 100000}'
    cat <<EOF2
registration_shared_secret: "$SHARED_SECRET"
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
enable_metrics: false
# Rate limits out of the way: the benchmark measures the server, not them.
rc_message: $big
rc_registration: $big
rc_login:
  address: $big
  account: $big
  failed_attempts: $big
rc_joins:
  local: $big
  remote: $big
rc_joins_per_room: $big
rc_invites:
  per_room: $big
  per_user: $big
  per_issuer: $big
rc_room_creation: $big
rc_presence:
  per_user: $big
rc_profile: $big
rc_key_requests: $big
rc_delayed_event_mgmt: $big
rc_user_directory: $big
EOF2
}

"""Operator command-line tools, flag-compatible with Synapse's.

Map: hash_password.py (bcrypt a password for the users table),
generate_signing_key.py (a new ed25519 server signing key),
register_new_matrix_user.py (create a user through the shared-secret
admin registration API).
"""

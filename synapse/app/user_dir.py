"""Synapse's legacy `synapse.app.user_dir` worker: now the generic worker."""

from synapse.app.generic_worker import main

if __name__ == "__main__":
    main()

"""Synapse's legacy `synapse.app.media_repository` worker: now the generic worker."""

from synapse.app.generic_worker import main

if __name__ == "__main__":
    main()

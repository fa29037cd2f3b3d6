"""Synapse's legacy `synapse.app.client_reader` worker: now the generic worker."""

from synapse.app.generic_worker import main

if __name__ == "__main__":
    main()

"""Transport adapters: each entry point turns its events into use-case calls and results into answers."""

from .. import bootstrap

# Before any entry point's imports: the cold start loads hundreds of modules (see bootstrap).
bootstrap.pause_collection()

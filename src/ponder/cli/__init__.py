"""The ``ponder`` command line: one module per command group."""

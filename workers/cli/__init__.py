"""The ``pulse`` command. Each subcommand lives in its own module here and exposes ``register``."""

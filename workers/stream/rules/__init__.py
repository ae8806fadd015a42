"""The stream worker's rules as pure functions and values: no Kafka, no Faust, no Postgres, no store.

``tests/unit/stream/rules/test_no_io.py`` fails when a module here imports an I/O library.
"""

"""The partition a key lands in, as the Java client's and aiokafka's default partitioner choose it.

Tools that read one site (``pulse tail``) use it to read only that site's partition.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions

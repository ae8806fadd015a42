"""``pulse bench``: every figure of the performance issue, measured in one run on one broker."""

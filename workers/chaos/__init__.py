"""``pulse chaos``: the whole local pipeline under generated load, with faults injected from a seed."""

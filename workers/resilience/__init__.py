"""Staying up through a dependency's restart: backoff between attempts, and the link's state."""

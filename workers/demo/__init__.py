"""`pulse demo`: the whole pipeline on throwaway services with a live terminal dashboard."""

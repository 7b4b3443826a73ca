"""The demo app: a visit counter whose one task is run by every worker family."""

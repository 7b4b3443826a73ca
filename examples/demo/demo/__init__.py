"""The prodserver demo project: one page, a health endpoint and one task run by every family."""

"""``prodserver init``: the answers (plan), the questions (wizard) and the file (render)."""

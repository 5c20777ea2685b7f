"""Stage 2, rules: rule files become a checked `Rulebook` — the expression language, rule versions and
editions, and the quotes checked against the reference texts."""

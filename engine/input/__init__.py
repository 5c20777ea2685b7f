"""Stage 1, input: a case file (YAML) or a sheet row becomes a validated `Case` with exact units."""

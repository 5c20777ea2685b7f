"""Stage 4, output: results become reports (text, JSON, Markdown, HTML) and stored rows (CSV, JSON Lines,
SQLite, .xlsx)."""

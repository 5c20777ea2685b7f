"""What every stage shares: error values with their place, escaping of echoed input, safe file IO,
clean interrupts, and where the bundled rules and cases are."""

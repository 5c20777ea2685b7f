"""Stage 3, decide: a case's derived facts and the rules in force, compiled into durable_rules, give
results; break-even prices and the impact of a revision are decided here too."""

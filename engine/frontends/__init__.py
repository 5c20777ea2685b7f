"""Stage 5, front ends: the command line, batch evaluation, rule tests and the web workbench, each built
on the stages before it."""

"""Use cases that join the rules, the records and the files."""

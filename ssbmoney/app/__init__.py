"""Use cases shared by the command line and the terminal UI: a home, its checked
actions, audit, export and import."""

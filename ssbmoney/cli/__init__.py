"""The command line: argument parsing, commands, and plain-text rendering."""

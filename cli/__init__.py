"""The command line: parse flags, read files, print answers."""

"""pyexec's emulator: Unicorn glue, the process, the CLI.

Kept free of imports at package level so `pyexec --help` and bad-input errors stay fast.
"""

"""What several test modules share. A test module imports from here, never from another test module,
so that each test file can be run, renamed or deleted on its own (tests/test_test_imports.py)."""

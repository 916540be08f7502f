"""Test support: a real server in a thread, fresh databases, and webhook forging."""

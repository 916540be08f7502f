"""The merchant's back office at ``/dashboard``: server-rendered pages for its staff."""

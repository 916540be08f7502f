"""Who is asking and what they may do: merchants, their API keys, buyers' JWTs, roles and
the one permission table."""

"""Accounts and auth: registration saga, passwords, JWT access tokens, rotating refresh tokens, API keys,
and the API's REQUEST authorizer."""

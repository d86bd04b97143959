"""Accounts: passwords, login sessions (tokens), login throttling and the REST routes around them.

The socket code only sees `TokenVerifier.verify`; `Accounts` is the implementation backed by the database.
"""

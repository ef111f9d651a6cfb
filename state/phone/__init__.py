"""Telephone call forwarding: 4-digit access codes per client, limits on callers who
guess, and E.164 phone numbers. The TwiML itself is written by handlers/voice.py.
"""

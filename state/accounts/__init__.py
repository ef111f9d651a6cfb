"""Accounts: password hashing, creating accounts and changing privileges, the first
admin, the audit entries of account changes, sign-in throttling, and the
`livehelp user ...` command line.
"""

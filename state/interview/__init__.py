"""YAML interviews: the file format and its checks, field values, and the runner that
walks a session through its screens. Knows nothing of live help: the author API
that code blocks and templates call is handed to the library (`InterviewLibrary(api=...)`).
"""

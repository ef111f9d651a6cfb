"""Everything the server knows, by concern (no Tornado anywhere below):
livehelp/ (the model), cobrowse/, interview/, phone/, accounts/, config.py and store/.
See docs/architecture.md for what each owns and which may import which.
"""

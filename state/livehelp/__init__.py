"""The live-help model: interview sessions with connected browsers, operators, routing of
help conversations, chat, blocks, the Hub that delivers the model's events, and the
API interview authors call (set_live_help_status, chat_partners_available, get_chat_log).

`model.LiveHelp` is the one owner of this state; co-browsing and phone codes extend it
through `extension.Extension` and see it through `extension.ModelView`.
"""

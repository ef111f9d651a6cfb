"""Observe and control (co-browsing): the screen each interviewee's page reports, as an
operator's view draws it, the public field values, who watches, and the one control
lock per client. Uses the live-help model only through `state.livehelp.extension`.
"""

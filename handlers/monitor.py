"""The Monitor page: operators see live-help sessions, chat, observe, join, block."""

from __future__ import annotations

from handlers.base import BaseHandler, operator_required


class MonitorHandler(BaseHandler):
    """GET /monitor: the page; everything live comes over the `ws/monitor` socket."""

    @operator_required
    def get(self) -> None:
        self.render_page("monitor.html", twilio_voice=self.config.twilio.voice)


routes = [("monitor", MonitorHandler)]

"""The web UI: the center's situation room, served by the API's app (``steppe.web.app``)."""

__all__: list[str] = []

"""The operator's web panel and the OBS overlay page (aiohttp, its own thread and loop).

:mod:`stream.web.state` is the small interface the pages read and the adapter that builds it
from the live pipeline's parts; :mod:`stream.web.panel` the aiohttp app and its server thread;
:mod:`stream.web.preview` the sink that keeps the newest output frame for the preview.
"""
from __future__ import annotations

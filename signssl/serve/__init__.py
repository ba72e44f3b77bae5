"""``signssl serve``: a sign dictionary searched in the browser.

:func:`signssl.serve.app.create_app` builds the ASGI app (FastAPI + uvicorn: the
``[serve]`` extra, imported only by :mod:`signssl.serve.app`); see ``docs/serve.md``.
"""

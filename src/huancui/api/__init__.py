"""The REST API (FastAPI): thin routers over the same services the CLI uses.

Kept import-light: `huancui.api.tables` is part of the schema every command loads, so FastAPI is
imported only by the modules that build the app (app.py and the routers).
"""

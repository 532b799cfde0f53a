"""The server-rendered web app (zh-CN and en): staff workbench and customer portal, signed in
with a session cookie and protected against CSRF."""

"""The people's web front end: server-rendered pages over the same services as the API.

``/`` public portal, ``/login``, ``/enterprise/…`` enterprise portal, ``/bureau/…`` bureau
console (docs/web.md). Pages never hold business rules: they parse a form into the API's
own input models, call the service, and show its errors next to the fields.
"""

"""polyocr.service: ``polyocr serve``, the HTTP API and web page (needs the ``service`` extra).

``app.create_app`` builds the FastAPI app, ``server.serve`` runs it under uvicorn; ``config``
holds the settings and per-request options, ``upload`` the streaming multipart reader, ``gate``
the admission control and ``work`` what runs in the worker threads.
"""

"""Reference deployment of Sewa Mitra: an ASGI route table (``service.web``) on SQLAlchemy (``python -m service``)."""

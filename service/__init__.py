"""Reference deployment of Sewa Mitra: FastAPI + SQLAlchemy (``python -m service``)."""

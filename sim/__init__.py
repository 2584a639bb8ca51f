"""Sewa Mitra Twin: a discrete-event model of Uttar Pradesh's Sewa Mitra platform."""

__version__ = "0.1.0"

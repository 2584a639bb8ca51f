"""HTML reports and plots built from saved run folders (never from a live model)."""

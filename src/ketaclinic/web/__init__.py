"""The clinic's web app: HTML pages (Jinja2 + htmx) and the JSON API under /api."""

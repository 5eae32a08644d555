"""The connector's SQLite store (``database``) and every change to its shape (``migrations``)."""

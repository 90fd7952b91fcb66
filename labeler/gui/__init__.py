"""The PySide6 GUI. The only package that imports Qt; torch only inside the jobs that need it."""

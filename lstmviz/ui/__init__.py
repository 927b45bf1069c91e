"""Streamlit glue shared by the pages (the only part of lstmviz that imports streamlit)."""

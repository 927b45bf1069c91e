"""Plotly figure builders: pure functions of plain arrays (they never touch the model)."""

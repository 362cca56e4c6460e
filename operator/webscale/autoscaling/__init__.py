"""Horizontal and worker scaling: the pure `decide` and its rules, history, reasons and their words,
status from a decision, and the scaling loop's act step (`act`)."""

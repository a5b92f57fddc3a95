"""The repair workflow: patch → score against random ablations → report → export."""
